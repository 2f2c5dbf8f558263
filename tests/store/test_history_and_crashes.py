"""The store's part in poison-instance quarantine and in the audit trail, on every
store: claims count crashes (a takeover without progress), release and request
write history lines in the same transaction as the change they record, retry
brings a quarantined instance back, and an oversized value is refused."""

from __future__ import annotations

import asyncio

import pytest

from podium.limits import MAX_PAYLOAD_BYTES
from podium.store import (
    CANCEL,
    CANCELLED,
    COMPLETED,
    FAULTED,
    PENDING,
    RESUME,
    RETRY,
    RUNNING,
    SUSPEND,
    SUSPENDED,
    LeaseLost,
    PayloadTooLarge,
    Store,
    quarantined,
)
from tests.store.factories import entry, instance, now

EXPIRED = 0.05  # seconds: a lease that has run out by the next step


async def expire() -> None:
    await asyncio.sleep(EXPIRED * 2)


async def claim_one(store: Store, worker: str, dead: tuple[str, ...] = ()) -> tuple[int, int]:
    """Claim the test's only instance with a lease that expires at once; its
    (crashes, claimed_seq) as the claim left them."""
    (record,) = await store.claim(worker, 1, EXPIRED, dead)
    assert record.claimed_seq is not None
    return record.crashes, record.claimed_seq


async def test_a_first_claim_counts_no_crash_and_records_the_journal_length(
    store: Store,
) -> None:
    record = instance()
    await store.create_instance(record)
    await store.append([entry(record.id, "/do/0/a", "task.started")])
    assert await claim_one(store, "w1") == (0, 1)


async def test_takeovers_without_progress_count_up(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    assert await claim_one(store, "w1") == (0, 0)
    await expire()
    assert await claim_one(store, "w2") == (1, 0)  # w1 stopped without progress
    await expire()
    assert await claim_one(store, "w3") == (2, 0)
    stored = await store.get_instance(record.id)
    assert stored is not None and (stored.crashes, stored.owner) == (2, "w3")


async def test_a_takeover_after_progress_starts_a_new_series(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await claim_one(store, "w1")
    await expire()
    assert await claim_one(store, "w2") == (1, 0)
    # w2 records two entries, then stops: it did progress.
    await store.append([entry(record.id, "/do/0/a"), entry(record.id, "/do/1/b")])
    await expire()
    assert await claim_one(store, "w3") == (1, 2)
    await expire()
    assert await claim_one(store, "w4") == (2, 2)


async def test_only_a_crash_of_a_run_alone_counts_beyond_the_first(store: Store) -> None:
    """Claims that isolate suspects (as workers make them): a run in company that
    stopped may have been stopped by a neighbour, so it makes the instance a
    suspect (1) and no more; each run alone that stops without progress counts."""
    record = instance()
    await store.create_instance(record)
    (first,) = await store.claim("w1", 1, EXPIRED, alone=False)
    assert (first.crashes, first.claimed_alone) == (0, 0)
    await expire()
    # Taken over in company: not yet a suspect when claimed (no crash then).
    (second,) = await store.claim("w2", 1, EXPIRED, alone=False)
    assert (second.crashes, second.claimed_alone) == (1, 0)
    await expire()
    # A suspect now: a claim in company leaves it out; one alone takes it.
    assert await store.suspects_waiting("w3")
    assert await store.claim("w3", 1, EXPIRED, alone=False) == []
    (third,) = await store.claim("w3", 1, EXPIRED, alone=True)
    assert (third.crashes, third.claimed_alone) == (1, 1)  # w2 ran in company
    await expire()
    (fourth,) = await store.claim("w4", 1, EXPIRED, alone=True)
    assert (fourth.crashes, fourth.claimed_alone) == (2, 1)  # w3 ran it alone
    await expire()
    (fifth,) = await store.claim("w5", 1, EXPIRED, alone=True)
    assert fifth.crashes == 3


async def test_a_clean_release_is_no_crash(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await claim_one(store, "w1")
    await expire()
    await claim_one(store, "w2")  # crashes 1
    await store.release("w2", record.id, crashes=0)  # e.g. a graceful shutdown
    assert await claim_one(store, "w3") == (0, 0)


async def test_reclaiming_an_own_expired_lease_is_no_crash(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await claim_one(store, "w1")
    await expire()
    assert await claim_one(store, "w1") == (0, 0)


async def test_a_restarted_worker_taking_back_its_own_counts_a_crash(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    (claimed,) = await store.claim("w1", 1, 30)
    assert claimed.crashes == 0
    # The same --worker-id, restarted: it names its previous self dead once.
    (again,) = await store.claim("w1", 1, 30, ["w1"])
    assert (again.id, again.crashes) == (record.id, 1)


async def test_a_dead_owner_taken_over_before_its_lease_expires_counts(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, 30)
    (taken,) = await store.claim("w2", 1, 30, ["w1"])
    assert (taken.owner, taken.crashes) == ("w2", 1)


# release with history -------------------------------------------------------------------


async def test_release_appends_history_in_the_same_commit(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, 30)
    await store.append([entry(record.id, "/do/0/a")])
    line = entry(record.id, "/", "instance.quarantined", data={"crashes": 3}, worker="w1")
    await store.release("w1", record.id, status=FAULTED, ended_at=now(), history=[line])
    stored = await store.get_instance(record.id)
    assert stored is not None and (stored.status, stored.owner) == (FAULTED, None)
    journal = await store.read_journal(record.id)
    assert [(e.seq, e.kind, e.data) for e in journal] == [
        (1, "task.completed", None), (2, "instance.quarantined", {"crashes": 3})
    ]


async def test_release_by_a_worker_that_lost_the_lease_writes_no_history(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.claim("w1", 1, EXPIRED)
    await expire()
    await store.claim("w2", 1, 30)
    line = entry(record.id, "/", "instance.cancelled")
    with pytest.raises(LeaseLost):
        await store.release("w1", record.id, status=CANCELLED, history=[line])
    assert await store.read_journal(record.id) == []
    stored = await store.get_instance(record.id)
    assert stored is not None and (stored.status, stored.owner) == (PENDING, "w2")


# requests and their history ---------------------------------------------------------------


async def history(store: Store, instance_id: str) -> list[tuple[str, str, object]]:
    return [(e.position, e.kind, e.data) for e in await store.read_journal(instance_id)]


async def test_every_request_is_in_the_history_with_who_asked(store: Store) -> None:
    idle, running = instance(), instance(status=RUNNING)
    for record in (idle, running):
        await store.create_instance(record)
    await store.claim("w1", 2, 30)  # w1 runs both: only "running" keeps it
    await store.release("w1", idle.id)

    await store.request(idle.id, SUSPEND, by="cli:ada@host:1")
    await store.request(idle.id, RESUME, by="cli:ada@host:1")
    await store.request(idle.id, CANCEL, by="api:bob")
    assert await history(store, idle.id) == [
        ("/", "instance.suspended", {"by": "cli:ada@host:1", "status": PENDING}),
        ("/", "instance.resumed", {"by": "cli:ada@host:1", "status": SUSPENDED}),
        ("/", "instance.cancelled", {"by": "api:bob", "status": PENDING}),
    ]
    # Requests to an instance a worker runs wait for it; the request is recorded now
    # (the worker records what it did).
    await store.request(running.id, SUSPEND, by="cli:ada@host:1")
    await store.request(running.id, CANCEL)
    assert await history(store, running.id) == [
        ("/", "instance.suspend-requested", {"by": "cli:ada@host:1", "status": RUNNING}),
        ("/", "instance.cancel-requested", {"by": None, "status": RUNNING}),
    ]


async def test_requests_that_change_nothing_write_nothing(store: Store) -> None:
    record = instance(status=SUSPENDED)
    await store.create_instance(record)
    await store.request(record.id, SUSPEND, by="cli")
    ended = instance()
    await store.create_instance(ended)
    await store.request(ended.id, CANCEL, by="cli")
    await store.request(ended.id, CANCEL, by="cli")
    assert await history(store, record.id) == []
    assert [kind for _, kind, _ in await history(store, ended.id)] == ["instance.cancelled"]


async def test_retry_puts_a_quarantined_instance_back_to_pending(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    await store.append([entry(record.id, "/do/0/a", "task.started")])
    await store.claim("w1", 1, EXPIRED)
    await expire()
    (taken,) = await store.claim("w2", 1, 30)
    assert taken.crashes == 1
    await store.release("w2", record.id, status=FAULTED, ended_at=now(),
                        error={"title": "Quarantined"})
    stored = await store.get_instance(record.id)
    assert stored is not None and quarantined(stored)

    retried = await store.request(record.id, RETRY, by="cli:ada@host:1")
    assert retried is not None and not quarantined(retried)
    assert (retried.status, retried.crashes, retried.error, retried.ended_at) == (
        PENDING, 0, None, None
    )
    assert await store.get_instance(record.id) == retried
    # The journal is kept (it resumes by replay); the retry is part of it.
    assert await history(store, record.id) == [
        ("/do/0/a", "task.started", None),
        ("/", "instance.retried",
         {"by": "cli:ada@host:1", "status": FAULTED, "after": "quarantine"}),
    ]
    (again,) = await store.claim("w3", 1, 30)
    assert (again.id, again.crashes) == (record.id, 0)  # no takeover: it was unowned


async def test_retry_of_a_faulted_instance_says_it_follows_a_fault(store: Store) -> None:
    faulted = instance(status=FAULTED, ended_at=now(), error={"title": "Boom"})  # crashes 0
    await store.create_instance(faulted)
    retried = await store.request(faulted.id, RETRY, by="ops")
    assert retried is not None
    assert (retried.status, retried.error, retried.ended_at) == ("pending", None, None)
    assert await history(store, faulted.id) == [
        ("/", "instance.retried", {"by": "ops", "status": FAULTED, "after": "fault"}),
    ]


async def test_retry_leaves_every_other_instance_alone(store: Store) -> None:
    completed = instance(status=COMPLETED, ended_at=now())
    running = instance(status=RUNNING, crashes=2)
    for record in (completed, running):
        await store.create_instance(record)
        assert await store.request(record.id, RETRY) == record
        assert await store.read_journal(record.id) == []
    assert await store.request("missing", RETRY) is None


# limits ----------------------------------------------------------------------------------


async def test_values_larger_than_the_payload_limit_are_refused(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    huge = "x" * (MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(PayloadTooLarge, match="larger than"):
        await store.append([entry(record.id, "/do/0/a", data={"output": huge})])
    with pytest.raises(PayloadTooLarge):
        await store.update_instance(record.id, output=huge)
    # Multi-byte text counts in bytes, not characters.
    with pytest.raises(PayloadTooLarge):
        await store.update_instance(record.id, output="é" * (MAX_PAYLOAD_BYTES // 2 + 1))
    await store.update_instance(record.id, output="é" * (MAX_PAYLOAD_BYTES // 4))
    assert await store.read_journal(record.id) == []

