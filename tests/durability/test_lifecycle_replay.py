"""Lifecycle events are not repeated on replay: an instance that parks, leaves
memory and resumes (on another worker, replaying its journal) announces each
task once, exactly as a run that never left memory does."""

from __future__ import annotations

from collections import Counter
from typing import Any

from podium import Runtime, load
from podium.store import Store
from tests.durability.helpers import (
    ended,
    eventually,
    in_status,
    journaled,
    runtime_on,
    working,
)

# Every way a replay could announce again: a task replayed from its outcome, tasks
# skipped by `if` before and after the parks, a retry whose delay parks, a faulted
# attempt, a composite task resumed in the middle, a `wait` that parks.
PARKING = """
document: {dsl: '1.0.3', namespace: lifecycle, name: parking, version: '1.0.0'}
do:
  - first: {set: {step: 1}}
  - skippedEarly: {if: '${ false }', set: {never: true}}
  - flaky:
      try:
        - fail:
            raise:
              error: {type: 'https://example.com/flaky', status: 503}
      catch:
        retry:
          delay: {seconds: 1}
          limit: {attempt: {count: 2}}
  - outer:
      do:
        - before: {set: {step: 2}}
        - skippedInside: {if: '${ false }', set: {never: true}}
        - pause: {wait: {seconds: 1}}
        - after: {set: {step: 3}}
  - skippedLate: {if: '${ false }', set: {never: true}}
  - last: {set: {step: 4}}
"""

Event = dict[str, Any]


def announced(events: list[Event]) -> Counter[tuple[str, str | None]]:
    """Each event type with the task it names, counted, status changes of the
    workflow aside (a resumed instance does go running again)."""
    return Counter(
        (event["type"].removeprefix("io.serverlessworkflow."), event["data"].get("task"))
        for event in events
        if not event["type"].endswith("workflow.status-changed.v1")
    )


async def in_memory() -> list[Event]:
    """What a run that never leaves memory announces."""
    events: list[Event] = []
    async with Runtime(listeners=[events.append]) as memory:
        assert (await memory.execute(PARKING)).status == "completed"
    return events


async def test_an_instance_that_parks_twice_announces_each_task_once(
    store_url: str, store: Store
) -> None:
    reference = await in_memory()
    events: list[Event] = []
    async with runtime_on(store_url, "worker-a", listeners=[events.append]) as first:
        record, _ = await first.create_instance(load(PARKING), {})
        async with working(first, park_after=0.5):
            await in_status(store, record.id, "waiting", unowned=True)  # the retry delay
    async with (
        runtime_on(store_url, "worker-b", listeners=[events.append]) as second,
        working(second, park_after=0.5),
    ):
        done = await ended(store, record.id)
    assert done.status == "completed", done.error
    assert done.output == {"step": 4}

    assert announced(events) == announced(reference)
    counts = announced(events)
    assert counts["workflow.started.v1", None] == 1
    assert counts["task.retried.v1", "/do/2/flaky"] == 2
    assert counts["task.faulted.v1", "/do/2/flaky/try/0/fail"] == 3  # one per attempt
    assert counts["task.created.v1", "/do/3/outer/do/2/pause"] == 1
    assert counts["task.completed.v1", "/do/1/skippedEarly"] == 1
    assert counts["task.completed.v1", "/do/3/outer/do/1/skippedInside"] == 1
    assert counts["task.completed.v1", "/do/4/skippedLate"] == 1
    # The order of what was announced is the order of the tasks.
    created = [e["data"]["task"] for e in events if e["type"].endswith("task.created.v1")]
    assert created == [e["data"]["task"] for e in reference
                       if e["type"].endswith("task.created.v1")]
    # Both runs resumed one waiting instance: it went running again, and said so.
    statuses = [e["data"]["status"] for e in events
                if e["type"].endswith("workflow.status-changed.v1")]
    assert statuses[0] == "running" and statuses[-1] == "completed"
    assert statuses.count("running") >= 3


async def test_an_instance_suspended_and_resumed_announces_each_task_once(
    store_url: str, store: Store
) -> None:
    events: list[Event] = []
    async with runtime_on(store_url, "worker-a", listeners=[events.append]) as runtime:
        record, _ = await runtime.create_instance(load(PARKING), {})
        async with working(runtime, park_after=60):
            await journaled(store, record.id, "timer", "/do/2/flaky@0/retry")  # in memory
            await store.request(record.id, "suspend")
            await in_status(store, record.id, "suspended", unowned=True)
            await store.request(record.id, "resume")
            done = await ended(store, record.id)
    assert done.status == "completed", done.error
    # What the suspension added: the instance's own suspension and resumption.
    counts, reference = announced(events), announced(await in_memory())
    assert counts - reference == Counter(
        {("workflow.suspended.v1", None): 1, ("workflow.resumed.v1", None): 1}
    )
    assert not reference - counts
    assert counts["workflow.started.v1", None] == 1


LONG_WAIT = """
document: {dsl: '1.0.3', namespace: lifecycle, name: long-wait, version: '1.0.0'}
do:
  - pause: {wait: {seconds: 30}}
  - done: {set: {done: true}}
"""


async def test_an_instance_released_at_shutdown_is_not_announced_cancelled(
    store_url: str, store: Store
) -> None:
    events: list[Event] = []
    async with runtime_on(store_url, "worker-a", listeners=[events.append]) as runtime:
        record, _ = await runtime.create_instance(load(LONG_WAIT), {})
        async with working(runtime, park_after=60):  # held in memory, in its wait
            await journaled(store, record.id, "timer", "/do/0/pause")
        # Leaving the worker released it: another worker continues it by replay.
    released = await store.get_instance(record.id)
    assert released is not None and released.status != "cancelled" and released.owner is None
    types = [event["type"] for event in events]
    assert "io.serverlessworkflow.task.started.v1" in types
    assert not [t for t in types if "cancelled" in t], types
    statuses = [e["data"]["status"] for e in events if e["type"].endswith("status-changed.v1")]
    assert "cancelled" not in statuses

    # A cancellation asked for is announced, as before.
    async def taken() -> bool:
        current = await store.get_instance(record.id)
        return current is not None and current.owner == "worker-b"

    async with (
        runtime_on(store_url, "worker-b", listeners=[events.append]) as second,
        working(second, park_after=60),
    ):
        await eventually(taken)
        await store.request(record.id, "cancel", by="test")
        await ended(store, record.id)
    assert "io.serverlessworkflow.workflow.cancelled.v1" in [e["type"] for e in events]
