"""Leases (claim, renew, release, owners), control requests and purge, on every store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from podium.store import (
    CANCEL,
    CANCELLED,
    COMPLETED,
    FAULTED,
    PENDING,
    RESUME,
    RUNNING,
    SUSPEND,
    SUSPENDED,
    WAITING,
    LeaseLost,
    Store,
)
from tests.store.factories import entry, instance, now

LEASE = 0.2  # seconds: long enough to hold within a test step, short enough to outlive


async def ids(
    store: Store,
    worker: str,
    limit: int = 10,
    lease: float = 30,
    dead_owners: list[str] | None = None,
) -> list[str]:
    claimed = await store.claim(worker, limit, lease, dead_owners or [])
    return [record.id for record in claimed]


# claim ------------------------------------------------------------------------------------


async def test_claim_takes_pending_instances_oldest_first(store: Store) -> None:
    records = [instance() for _ in range(3)]
    for record in reversed(records):
        await store.create_instance(record)
    before = now()
    claimed = await store.claim("w1", 2, 30)
    assert [r.id for r in claimed] == [records[0].id, records[1].id]
    for record in claimed:
        assert record.owner == "w1" and record.status == PENDING
        assert record.lease_expires_at is not None
        assert before + timedelta(seconds=29) < record.lease_expires_at
        assert record.updated_at >= before
    assert await store.get_instance(records[0].id) == claimed[0]
    assert await ids(store, "w2") == [records[2].id]


async def test_claim_never_takes_a_live_lease_of_another_worker(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    assert await ids(store, "w1") == [record.id]
    assert await ids(store, "w2") == []


async def test_claim_never_returns_what_the_caller_already_holds(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    assert await ids(store, "w1") == [record.id]
    assert await ids(store, "w1") == []


async def test_a_restarted_worker_retakes_its_own_by_naming_itself_dead(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    assert await ids(store, "w1") == [record.id]
    assert await ids(store, "w1", dead_owners=["w1"]) == [record.id]


async def test_claim_takes_expired_leases(store: Store) -> None:
    running = instance(status=RUNNING)
    # Waiting for an event, held by its worker, which then died.
    waiting = instance(
        status=WAITING, owner="w0", lease_expires_at=now() + timedelta(seconds=LEASE)
    )
    for record in (running, waiting):
        await store.create_instance(record)
    assert await ids(store, "w1", lease=LEASE) == [running.id]
    assert await ids(store, "w2") == []
    await asyncio.sleep(LEASE + 0.1)
    assert await ids(store, "w2") == [running.id, waiting.id]
    stored = await store.get_instance(running.id)
    assert stored is not None and stored.owner == "w2"


async def test_claim_takes_instances_of_dead_owners(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    assert await ids(store, "w1") == [record.id]
    assert await ids(store, "w2", dead_owners=["w0", "w3"]) == []
    assert await ids(store, "w2", dead_owners=["w1"]) == [record.id]


async def test_claim_takes_waiting_instances_when_their_timer_is_due(store: Store) -> None:
    due = instance(status=WAITING, wake_at=now() - timedelta(seconds=1))
    later = instance(status=WAITING, wake_at=now() + timedelta(hours=1))
    for_event = instance(status=WAITING)
    for record in (due, later, for_event):
        await store.create_instance(record)
    assert await ids(store, "w1") == [due.id]


async def test_claim_never_takes_suspended_or_ended_instances(store: Store) -> None:
    past = now() - timedelta(hours=1)
    for status in (SUSPENDED, COMPLETED, FAULTED, CANCELLED):
        await store.create_instance(instance(status=status, wake_at=past))
        await store.create_instance(
            instance(status=status, owner="gone", lease_expires_at=past, wake_at=past)
        )
    assert await ids(store, "w1", dead_owners=["gone"]) == []


async def test_claim_respects_limit(store: Store) -> None:
    for _ in range(5):
        await store.create_instance(instance())
    assert await store.claim("w1", 0, 30) == []
    assert len(await ids(store, "w1", limit=3)) == 3
    assert len(await ids(store, "w2", limit=3)) == 2


async def test_concurrent_claimers_never_share_an_instance(
    store: Store, other_store: Store
) -> None:
    """Two store objects, as two worker processes: SKIP LOCKED on PostgreSQL, the one
    write lock on SQLite."""
    created = [instance() for _ in range(60)]
    for record in created:
        await store.create_instance(record)

    async def worker(on: Store, name: str) -> list[str]:
        taken: list[str] = []
        while claimed := await ids(on, name, limit=2):
            taken += claimed
            for record_id in claimed:  # done with it, or it would be claimed again
                await on.release(name, record_id, status=COMPLETED, ended_at=now())
        return taken

    results = await asyncio.gather(
        *(worker(on, f"w{n}") for n, on in enumerate([store, other_store] * 3))
    )
    everything = [record_id for taken in results for record_id in taken]
    assert len(everything) == len(set(everything)) == len(created)
    assert sum(1 for taken in results if taken) > 1


# renew, release, owners -------------------------------------------------------------------


async def test_renew_extends_only_own_leases(store: Store) -> None:
    mine, theirs = instance(), instance()
    for record in (mine, theirs):
        await store.create_instance(record)
    await store.claim("w1", 1, LEASE)
    await store.claim("w2", 1, LEASE)
    await store.request(mine.id, SUSPEND)
    renewed = await store.renew("w1", 30)
    assert [r.id for r in renewed] == [mine.id]
    assert renewed[0].request == SUSPEND  # how the worker hears about requests
    await asyncio.sleep(LEASE + 0.1)
    assert await ids(store, "w3") == [theirs.id]  # expired; mine was renewed
    assert await store.renew("nobody", 30) == []


async def test_release_clears_the_lease_and_applies_changes(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, 30)
    ended = now()
    await store.release("w1", record.id, status=COMPLETED, output=[1], ended_at=ended)
    stored = await store.get_instance(record.id)
    assert stored is not None
    assert (stored.owner, stored.lease_expires_at) == (None, None)
    assert (stored.status, stored.output, stored.ended_at) == (COMPLETED, [1], ended)


async def test_release_into_a_timer_wait(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, 30)
    await store.release("w1", record.id, status=WAITING, wake_at=now() + timedelta(seconds=LEASE))
    assert await ids(store, "w2") == []
    await asyncio.sleep(LEASE + 0.1)
    assert await ids(store, "w2") == [record.id]


async def test_release_by_a_worker_that_lost_the_lease(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, LEASE)
    await asyncio.sleep(LEASE + 0.1)
    await store.claim("w2", 1, 30)
    with pytest.raises(LeaseLost, match="w1"):
        await store.release("w1", record.id, status=COMPLETED)
    stored = await store.get_instance(record.id)
    assert stored is not None and (stored.owner, stored.status) == ("w2", PENDING)


async def test_owners(store: Store) -> None:
    assert await store.owners() == []
    for _ in range(3):
        await store.create_instance(instance())
    await store.claim("w2", 2, 30)
    await store.claim("w1", 1, 30)
    assert await store.owners() == ["w1", "w2"]


# control requests -------------------------------------------------------------------------


async def test_resume_a_suspended_instance(store: Store) -> None:
    record = instance(status=SUSPENDED, owner="w1", request=SUSPEND)
    await store.create_instance(record)
    resumed = await store.request(record.id, RESUME)
    assert resumed is not None
    assert (resumed.status, resumed.owner, resumed.request) == (PENDING, None, None)
    assert await store.get_instance(record.id) == resumed
    assert await ids(store, "w2") == [record.id]


async def test_cancel_an_instance_nobody_runs(store: Store) -> None:
    idle = instance(status=WAITING, wake_at=now() + timedelta(hours=1), error={"x": 1})
    await store.create_instance(idle)
    before = now()
    cancelled = await store.request(idle.id, CANCEL)
    assert cancelled is not None
    assert (cancelled.status, cancelled.error, cancelled.request) == (CANCELLED, None, None)
    assert cancelled.ended_at is not None and cancelled.ended_at >= before
    assert await store.get_instance(idle.id) == cancelled


async def test_cancel_an_instance_whose_lease_expired(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, LEASE)
    await asyncio.sleep(LEASE + 0.1)
    cancelled = await store.request(record.id, CANCEL)
    assert cancelled is not None and (cancelled.status, cancelled.owner) == (CANCELLED, None)


async def test_requests_to_a_running_instance_wait_for_its_worker(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, 30)
    for command in (CANCEL, SUSPEND):
        asked = await store.request(record.id, command)
        assert asked is not None and (asked.status, asked.request) == (PENDING, command)
        assert await store.get_instance(record.id) == asked


async def test_suspend_an_instance_nobody_runs(store: Store) -> None:
    record = instance(status=WAITING, wake_at=now() + timedelta(hours=1))
    await store.create_instance(record)
    suspended = await store.request(record.id, SUSPEND)
    assert suspended is not None and (suspended.status, suspended.request) == (SUSPENDED, None)
    assert await ids(store, "w1") == []
    assert await store.request(record.id, SUSPEND) == suspended


async def test_requests_to_ended_or_missing_instances(store: Store) -> None:
    record = instance(status=COMPLETED, ended_at=now())
    await store.create_instance(record)
    for command in (SUSPEND, RESUME, CANCEL):
        assert await store.request(record.id, command) == record
    assert await store.request("ghost", CANCEL) is None
    with pytest.raises(ValueError, match="pause"):
        await store.request(record.id, "pause")


# purge ------------------------------------------------------------------------------------


async def test_purge_deletes_old_ended_instances_and_their_journals(store: Store) -> None:
    cutoff = now()
    old = [
        instance(status=status, ended_at=cutoff - timedelta(days=1))
        for status in (COMPLETED, FAULTED, CANCELLED)
    ]
    recent = instance(status=COMPLETED, ended_at=cutoff + timedelta(seconds=1))
    active = instance(status=RUNNING, ended_at=cutoff - timedelta(days=1))  # inconsistent, kept
    for record in [*old, recent, active]:
        await store.create_instance(record)
        await store.append([entry(record.id, "/do/0"), entry(record.id, "/do/1")])
    assert await store.purge(cutoff) == 3
    for record in old:
        assert await store.get_instance(record.id) is None
        assert await store.read_journal(record.id) == []
    for record in (recent, active):
        assert await store.get_instance(record.id) is not None
        assert len(await store.read_journal(record.id)) == 2
    assert await store.purge(cutoff) == 0
