"""Definitions on the store: instances keep the version they started with,
starts with a key are idempotent, and subflows are recorded instances of their own."""

from __future__ import annotations

import asyncio

from podium import load
from podium.store import InstanceQuery, InstanceRecord, Store
from tests.durability.helpers import (
    call_key,
    ended,
    entries,
    in_status,
    journaled,
    runtime_on,
    working,
)
from tests.support.counting_server import CountingServer

VERSIONED = """
document: {dsl: '1.0.3', namespace: durability, name: versioned, version: 'VERSION'}
do:
  - pause:
      wait: {seconds: 1}
  - stamp:
      set: {version: 'VERSION'}
"""


def versioned(version: str) -> str:
    return VERSIONED.replace("VERSION", version)


async def test_an_instance_keeps_its_version_after_a_newer_one_is_deployed(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(versioned("1.0.0")), {})
        async with working(first, park_after=0.5):
            await in_status(store, record.id, "waiting", unowned=True)
        await first.deploy(versioned("1.0.1"))
        latest = await first.registry.get("durability", "versioned")
        newer, _ = await first.create_instance(latest, {})
    assert (record.version, newer.version) == ("1.0.0", "1.0.1")

    # A new runtime (nothing cached) resumes the parked instance after the deploy.
    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=0.5):
        done = await ended(store, record.id)
        newer_done = await ended(store, newer.id)
    assert (done.status, done.output) == ("completed", {"version": "1.0.0"})
    assert (newer_done.status, newer_done.output) == ("completed", {"version": "1.0.1"})


KEYED = """
document: {dsl: '1.0.3', namespace: durability, name: keyed, version: '1.0.0'}
do:
  - charge:
      call: http
      with: {method: get, endpoint: 'BASE/ok/charge?delay=0.3'}
      output: {as: '${ {amount: $input.amount, key: .key} }'}
"""


async def test_a_start_with_a_key_is_idempotent(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    source = KEYED.replace("BASE", counting.url)
    async with (
        runtime_on(store_url, "worker-a") as first,
        runtime_on(store_url, "worker-b") as other,
    ):
        handle = await first.start(source, {"amount": 10}, key="order-1")
        # While it runs, the same key (even with another input, from another
        # process) names the same instance and starts nothing.
        again = await other.start(source, {"amount": 99}, key="order-1")
        assert again.id == handle.id
        assert (await again.result()).status == "running"
        execution = await handle.result()
        later = await (await other.start(source, {"amount": 99}, key="order-1")).result()
        fresh = await (await other.start(source, {"amount": 5}, key="order-2")).result()

    key = call_key(handle.id, "/do/0/charge")
    assert (execution.status, execution.output) == ("completed", {"amount": 10, "key": key})
    assert (later.id, later.status, later.output) == (handle.id, "completed", execution.output)
    assert fresh.id != handle.id and fresh.output["amount"] == 5
    assert counting.by_key() == {key: 1, call_key(fresh.id, "/do/0/charge"): 1}
    record = await store.get_instance(handle.id)
    assert record is not None and record.key == "order-1"


CHILD = """
document: {dsl: '1.0.3', namespace: durability, name: child, version: '1.0.0'}
do:
  - work:
      call: http
      with: {method: get, endpoint: 'BASE/ok/child'}
      output: {as: '${ {child: .key, for: $input.who} }'}
  - pause:
      wait: {milliseconds: 1000}
"""

PARENT = """
document: {dsl: '1.0.3', namespace: durability, name: parent, version: '1.0.0'}
do:
  - greet:
      set: {who: '${ .who }'}
  - delegate:
      run:
        await: AWAIT
        workflow: {namespace: durability, name: child, version: '1.0.0'}
"""


def parent(awaited: bool) -> str:
    return PARENT.replace("AWAIT", str(awaited).lower())


async def test_an_awaited_subflow_is_not_started_twice_when_its_parent_replays(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        await first.deploy(CHILD.replace("BASE", counting.url))
        record, _ = await first.create_instance(load(parent(True)), {"who": "Ada"})
        async with working(first, park_after=60):
            await asyncio.to_thread(counting.wait_for, "child")
            child_key = f"{record.id}:/do/1/delegate"
            child = await _by_key(store, child_key)
            # Inside the child's wait: stop the worker, which releases both.
            await journaled(store, child.id, "timer", "/do/1/pause")
        await in_status(store, record.id, "running", unowned=True)
        await in_status(store, child.id, "running", unowned=True)

    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=60):
        done = await ended(store, record.id)

    child_done = await store.get_instance(child.id)
    assert child_done is not None and child_done.status == "completed"
    assert (child_done.parent_id, child_done.parent_position) == (record.id, "/do/1/delegate")
    assert done.status == "completed", done.error
    assert done.output == child_done.output == {
        "child": call_key(child.id, "/do/0/work"), "for": "Ada"
    }
    assert counting.by_key() == {call_key(child.id, "/do/0/work"): 1}
    instances = await store.list_instances()
    assert sorted(i.id for i in instances) == sorted([record.id, child.id])
    journal = await store.read_journal(child.id)
    assert [e.worker for e in entries(journal, "task.completed", "/do/1/pause")] == ["worker-b"]


async def test_a_subflow_not_awaited_is_left_pending_for_a_worker(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "starter") as starter:
        await starter.deploy(CHILD.replace("BASE", counting.url))
        execution = await starter.execute(parent(False), {"who": "Bo"})
    assert (execution.status, execution.output) == ("completed", {"who": "Bo"})
    child = await _by_key(store, f"{execution.id}:/do/1/delegate")
    assert (child.status, child.owner, child.parent_id) == ("pending", None, execution.id)
    assert counting.hits == []

    async with runtime_on(store_url, "worker-a") as runtime, working(runtime):
        done = await ended(store, child.id)
    assert (done.status, done.output) == (
        "completed", {"child": call_key(child.id, "/do/0/work"), "for": "Bo"}
    )


async def _by_key(store: Store, key: str) -> InstanceRecord:
    for record in await store.list_instances(InstanceQuery(limit=1000)):
        if record.key == key:
            return record
    raise AssertionError(f"no instance with key {key!r}")
