"""Workers fire due schedules: once per due time however many tick at once, a
missed fire once on return, ``after`` only once the previous instance ended."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from podium.scheduling import Scheduler, schedule_key, start_scheduled
from podium.store import InstanceQuery, InstanceRecord, Store
from podium.store.base import ScheduleRecord
from tests.scheduling.support import Runtimes, scheduled


async def scheduled_instances(store: Store) -> list[InstanceRecord]:
    records = await store.list_instances(InstanceQuery(limit=1000))
    return sorted((r for r in records if (r.key or "").startswith("schedule:")),
                  key=lambda r: r.key or "")


async def make_due(store: Store, ago: timedelta = timedelta(seconds=1)) -> ScheduleRecord:
    """Move the (only) schedule's next due time into the past."""
    [row] = await store.list_schedules()
    due = datetime.now(UTC).replace(microsecond=0) - ago
    await store.put_schedule(replace(row, next_due=due))
    [row] = await store.list_schedules()
    return row


@pytest.mark.timeout(60)
async def test_two_workers_ticking_together_fire_once_per_due_time(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as one, runtime_on("w2") as two:
        await one.deploy(scheduled({"every": "PT1H"}))
        dues = []
        for round_ in range(5):
            row = await make_due(store, timedelta(minutes=round_ + 1))
            dues.append(row.next_due)
            first, second = Scheduler(one), Scheduler(two)
            fired = await asyncio.gather(first.tick(), second.tick(), first.tick(),
                                         second.tick())
            assert sum(len(started) for started in fired) == 1, fired
    instances = await scheduled_instances(store)
    assert sorted(r.key for r in instances if r.key) == sorted(
        schedule_key("test", "nightly", due) for due in dues if due is not None)
    assert {r.status for r in instances} == {"pending"}
    assert all(r.input == {} for r in instances)  # a time schedule starts with {}


async def test_a_fire_is_recorded_and_the_next_one_computed(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
        row = await make_due(store, timedelta(seconds=30))
        [instance] = await Scheduler(runtime).tick()
    assert instance.key == schedule_key("test", "nightly", row.next_due or datetime.now(UTC))
    assert (instance.namespace, instance.name, instance.version) == ("test", "nightly",
                                                                     "0.1.0")
    [after] = await store.list_schedules()
    assert (after.last_due, after.last_instance, after.owner) == (row.next_due, instance.id,
                                                                  None)
    # From the due time just fired: it is still ahead of now.
    assert after.next_due == (row.next_due or datetime.now(UTC)) + timedelta(hours=1)


async def test_a_missed_cron_fires_once_on_return(store: Store, runtime_on: Runtimes) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"cron": "* * * * *"}))  # every minute
        await make_due(store, timedelta(hours=1))  # the worker was down for an hour
        scheduler = Scheduler(runtime, interval=0)
        fired = [await scheduler.tick() for _ in range(3)]
        now = datetime.now(UTC)
    assert [len(started) for started in fired] == [1, 0, 0]
    assert len(await scheduled_instances(store)) == 1
    [row] = await store.list_schedules()
    # The next fire is the next minute from now, not the one after the missed time.
    assert row.next_due is not None and now < row.next_due <= now + timedelta(minutes=1)
    assert row.next_due.second == 0


async def test_after_fires_again_only_once_the_previous_instance_ended(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"after": "PT0.2S"}))
        scheduler = Scheduler(runtime, interval=0)
        [first] = await scheduler.tick()  # the first run starts at once
        for _ in range(3):
            await asyncio.sleep(0.3)
            assert await scheduler.tick() == []  # still pending: nothing more
        [row] = await store.list_schedules()
        assert (row.next_due, row.last_instance) == (None, first.id)
        ended = datetime.now(UTC)
        await store.update_instance(first.id, status="completed", ended_at=ended)
        assert await scheduler.tick() == []  # armed: due 0.2 s after the end
        [row] = await store.list_schedules()
        assert row.next_due == ended + timedelta(seconds=0.2)
        await asyncio.sleep(0.3)
        [second] = await scheduler.tick()
    assert second.id != first.id
    assert second.key == schedule_key("test", "nightly", ended + timedelta(seconds=0.2))


async def test_starting_twice_with_one_key_makes_one_instance(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
        key = "schedule:test/nightly:2026-01-01T02:00:00.000Z"
        first = await start_scheduled(runtime, "test", "nightly", "0.1.0", {}, key)
        again = await start_scheduled(runtime, "test", "nightly", "0.1.0", {}, key)
    assert again.id == first.id
    assert [r.id for r in await scheduled_instances(store)] == [first.id]


async def test_a_replaced_schedule_makes_the_old_fire_lose_its_lease(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
        row = await make_due(store)
        [claimed] = await store.claim_schedules("w1", 5, datetime.now(UTC))
        assert claimed.owner == "w1"
        assert await store.claim_schedules("w2", 5, datetime.now(UTC)) == []  # leased
        await runtime.deploy(scheduled({"every": "PT2H"}, version="0.2.0"))
        assert row.next_due is not None
        recorded = await store.fired("test", "nightly", "w1", due=row.next_due,
                                     next_due=row.next_due, instance_id=None)
    assert recorded is False
    [now_row] = await store.list_schedules()
    assert (now_row.version, now_row.spec) == ("0.2.0", {"every": "PT2H"})
    assert now_row.next_due is not None and now_row.next_due > row.next_due + timedelta(hours=1)
