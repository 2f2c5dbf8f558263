"""Suspend, resume and cancel through the store while a worker runs the instance
(the requests another process, e.g. the CLI or the server, would make)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from podium import load
from podium.store import InstanceRecord, Store
from podium.worker import keeper
from tests.durability.helpers import (
    LEASE,
    call_key,
    ended,
    entries,
    eventually,
    in_status,
    journaled,
    runtime_on,
    working,
)
from tests.support.counting_server import CountingServer

TWO_CALLS = """
document: {dsl: '1.0.3', namespace: durability, name: two-calls, version: '1.0.0'}
do:
  - first:
      call: http
      with: {method: get, endpoint: 'BASE/ok/first'}
      output: {as: '${ {first: .key} }'}
  - pause:
      wait: {milliseconds: PAUSE}
  - second:
      call: http
      with: {method: get, endpoint: 'BASE/ok/second'}
      output: {as: '${ $input + {second: .key} }'}
"""


def two_calls(server: CountingServer, pause: float) -> str:
    return TWO_CALLS.replace("BASE", server.url).replace("PAUSE", str(int(pause * 1000)))


async def test_a_running_instance_suspends_at_its_next_task_and_resumes(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(two_calls(counting, 1.5)), {})
        async with working(runtime, park_after=60) as worker:
            await journaled(store, record.id, "timer", "/do/1/pause")
            asked = await store.request(record.id, "suspend")
            assert asked is not None and asked.request == "suspend"
            # The wait runs out; `second` must not start: the instance leaves memory.
            suspended = await in_status(store, record.id, "suspended", unowned=True)
            assert suspended.request is None
            await asyncio.sleep(0.1)
            assert record.id not in worker.running
            assert record.id not in keeper(runtime).held
            await asyncio.sleep(0.5)  # it stays put, and nobody claims it
            assert (await store.get_instance(record.id)).status == "suspended"  # type: ignore[union-attr]
            assert counting.named("second") == []

            resumed = await store.request(record.id, "resume")
            assert resumed is not None and resumed.status == "pending"
            done = await ended(store, record.id)

    assert done.status == "completed", done.error
    keys = [call_key(record.id, "/do/0/first"), call_key(record.id, "/do/2/second")]
    assert done.output == {"first": keys[0], "second": keys[1]}
    assert counting.by_key() == dict.fromkeys(keys, 1)
    journal = await store.read_journal(record.id)
    assert len(entries(journal, "task.completed", "/do/1/pause")) == 1


async def test_cancel_interrupts_the_running_task_and_runs_no_more(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(two_calls(counting, 30)), {})
        async with working(runtime, park_after=60) as worker:
            await journaled(store, record.id, "timer", "/do/1/pause")
            asked = time.monotonic()
            await store.request(record.id, "cancel")
            done = await ended(store, record.id)
            # The keeper relays requests with its renewals, every third of a lease.
            assert time.monotonic() - asked < LEASE
            await asyncio.sleep(0.1)
            assert record.id not in worker.running

    assert (done.status, done.owner, done.request) == ("cancelled", None, None)
    assert done.ended_at is not None
    assert counting.by_key() == {call_key(record.id, "/do/0/first"): 1}
    journal = await store.read_journal(record.id)
    assert entries(journal, "task.completed", "/do/1/pause") == []
    assert [e for e in journal if e.position == "/do/2/second"] == []


async def test_cancel_a_parked_instance(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(two_calls(counting, 1)), {})
        async with working(runtime, park_after=0.5):
            await in_status(store, record.id, "waiting", unowned=True)
            cancelled = await store.request(record.id, "cancel")
            assert cancelled is not None and cancelled.status == "cancelled"
            await asyncio.sleep(1.5)  # past its due time: no worker wakes it
    after = await store.get_instance(record.id)
    assert after is not None and (after.status, after.owner) == ("cancelled", None)
    assert counting.named("second") == []


async def test_suspend_a_parked_instance_then_resume_it_after_its_due_time(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(two_calls(counting, 1)), {})
        async with working(runtime, park_after=0.5):
            await in_status(store, record.id, "waiting", unowned=True)
            suspended = await store.request(record.id, "suspend")
            assert suspended is not None and suspended.status == "suspended"
            await asyncio.sleep(1.5)  # due meanwhile, but suspended instances sleep on
            assert counting.named("second") == []
            await store.request(record.id, "resume")
            done = await ended(store, record.id)
    assert done.status == "completed", done.error
    assert counting.received(call_key(record.id, "/do/2/second")) == 1


async def test_a_resume_before_the_suspension_took_effect_undoes_it(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(two_calls(counting, 1.5)), {})
        async with working(runtime, park_after=60):
            await journaled(store, record.id, "timer", "/do/1/pause")
            await store.request(record.id, "suspend")
            # The worker took the request (and clears it), but the instance is
            # still inside its wait: it would only leave memory at `second`.
            await eventually(_request_cleared(store, record.id))
            resumed = await store.request(record.id, "resume")
            assert resumed is not None and resumed.status == "running"
            done = await ended(store, record.id)
    assert done.status == "completed", done.error
    journal = await store.read_journal(record.id)
    # It never left memory: one start of `second`, by the same worker.
    assert [e.worker for e in entries(journal, "task.started", "/do/2/second")] == ["worker-a"]
    assert counting.received(call_key(record.id, "/do/2/second")) == 1


def _request_cleared(store: Store, instance_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        record = await store.get_instance(instance_id)
        return record is not None and record.request is None

    return check


CHILD = """
document: {dsl: '1.0.3', namespace: durability, name: child, version: '1.0.0'}
do:
  - pause: {wait: {milliseconds: 1000}}
  - work:
      call: http
      with: {method: get, endpoint: 'BASE/ok/child'}
"""

PARENT = """
document: {dsl: '1.0.3', namespace: durability, name: parent, version: '1.0.0'}
do:
  - delegate:
      run:
        workflow: {namespace: durability, name: child, version: '1.0.0'}
"""


async def test_suspending_an_awaited_subflow_holds_its_parent_until_it_resumes(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        await runtime.deploy(CHILD.replace("BASE", counting.url))
        record, _ = await runtime.create_instance(load(PARENT), {})
        async with working(runtime, park_after=60):
            child = await eventually(_child_of(store, record.id))
            await journaled(store, child.id, "timer", "/do/0/pause")
            await store.request(child.id, "suspend")
            await in_status(store, child.id, "suspended", unowned=True)
            await asyncio.sleep(0.3)
            waiting = await store.get_instance(record.id)
            assert waiting is not None and (waiting.status, waiting.owner) == (
                "running", "worker-a"
            )
            assert counting.hits == []
            await store.request(child.id, "resume")
            done = await ended(store, record.id)
    assert done.status == "completed", done.error
    assert done.output == {"name": "child", "key": call_key(child.id, "/do/1/work")}
    assert counting.received(call_key(child.id, "/do/1/work")) == 1


def _child_of(store: Store, parent_id: str) -> Callable[[], Awaitable[InstanceRecord | None]]:
    async def check() -> InstanceRecord | None:
        return next(
            (i for i in await store.list_instances() if i.parent_id == parent_id), None
        )

    return check


GUARDED_PARENT = """
document: {dsl: '1.0.3', namespace: durability, name: guarded-parent, version: '1.0.0'}
do:
  - guarded:
      try:
        - delegate:
            run:
              workflow: {namespace: durability, name: child, version: '1.0.0'}
      catch:
        as: problem
        do:
          - handled:
              set: {caught: '${ $problem.detail }'}
"""


async def test_cancelling_an_awaited_subflow_faults_its_parents_task_only(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    """The parent sees an error it can catch, as when it finds the child already
    cancelled on replay; it is not cancelled along with the child."""
    async with runtime_on(store_url, "worker-a") as runtime:
        await runtime.deploy(CHILD.replace("BASE", counting.url))
        record, _ = await runtime.create_instance(load(GUARDED_PARENT), {})
        async with working(runtime, park_after=60):
            child = await eventually(_child_of(store, record.id))
            await journaled(store, child.id, "timer", "/do/0/pause")
            await store.request(child.id, "cancel")
            done = await ended(store, record.id)
    cancelled = await store.get_instance(child.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert done.status == "completed", done.error
    assert done.output == {"caught": f"subflow {child.id} ended as cancelled"}
    assert counting.hits == []
