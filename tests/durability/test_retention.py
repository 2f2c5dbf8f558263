"""Purging: ended instances and their journals go once they are old enough;
active instances stay, however old."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from podium import load
from podium.store import Store
from tests.durability.helpers import in_status, runtime_on, working

QUICK = """
document: {dsl: '1.0.3', namespace: durability, name: quick, version: '1.0.0'}
do:
  - step: {set: {done: true}}
"""

FAILING = """
document: {dsl: '1.0.3', namespace: durability, name: failing, version: '1.0.0'}
do:
  - fail:
      raise:
        error: {type: https://example.com/errors/nope, status: 400}
"""

SLEEPY = """
document: {dsl: '1.0.3', namespace: durability, name: sleepy, version: '1.0.0'}
do:
  - nap: {wait: {hours: 1}}
"""


async def test_purge_deletes_old_ended_instances_and_their_journals_only(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        completed = await runtime.execute(QUICK)
        faulted = await runtime.execute(FAILING)
        pending, _ = await runtime.create_instance(load(QUICK), {})
        cancelled = await store.request(pending.id, "cancel")
        assert cancelled is not None and cancelled.status == "cancelled"
        await asyncio.sleep(0.05)
        cutoff = datetime.now(UTC)
        await asyncio.sleep(0.05)
        recent = await runtime.execute(QUICK)

        # Active ones, whatever their age: parked, pending, suspended.
        parked, _ = await runtime.create_instance(load(SLEEPY), {})
        async with working(runtime, park_after=5):
            await in_status(store, parked.id, "waiting", unowned=True)
        still_pending, _ = await runtime.create_instance(load(QUICK), {})
        suspended, _ = await runtime.create_instance(load(SLEEPY), {})
        await store.request(suspended.id, "suspend")
    assert (completed.status, faulted.status) == ("completed", "faulted")
    old = [completed.id, faulted.id, pending.id]
    active = [parked.id, still_pending.id, suspended.id]
    for instance_id in old:
        assert await store.read_journal(instance_id) or instance_id == pending.id

    assert await store.purge(cutoff) == 3
    for instance_id in old:
        assert await store.get_instance(instance_id) is None
        assert await store.read_journal(instance_id) == []
    kept = await store.get_instance(recent.id)
    assert kept is not None and kept.status == "completed"
    assert await store.read_journal(recent.id)

    # Even a cutoff in the future spares the active ones and their journals.
    assert await store.purge(datetime.now(UTC) + timedelta(days=1)) == 1
    assert await store.get_instance(recent.id) is None
    statuses = {i: (await store.get_instance(i)).status for i in active}  # type: ignore[union-attr]
    assert statuses == {
        parked.id: "waiting", still_pending.id: "pending", suspended.id: "suspended"
    }
    assert await store.read_journal(parked.id)
    assert await store.purge(datetime.now(UTC) + timedelta(days=1)) == 0


async def test_workers_apply_the_retention_period_by_themselves(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        old = await runtime.execute(QUICK)
        await asyncio.sleep(1.5)
        recent_cutoff = datetime.now(UTC)
        recent = await runtime.execute(QUICK)
        # Keeps what ended after recent_cutoff for a while yet; `old` is past it.
        retention = datetime.now(UTC) - recent_cutoff + timedelta(seconds=0.75)
        async with working(runtime, retention=retention):
            for _ in range(100):
                if await store.get_instance(old.id) is None:
                    break
                await asyncio.sleep(0.02)
    assert await store.get_instance(old.id) is None
    assert await store.read_journal(old.id) == []
    assert await store.get_instance(recent.id) is not None
