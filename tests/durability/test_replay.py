"""An interrupted instance resumes elsewhere by replaying its journal: recorded
tasks are not run again, recorded values (even the clock) come back as they were."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from podium import load
from podium.engine.execution import execute
from podium.store import Store
from tests.durability.helpers import (
    TOLERANCE,
    call_key,
    due,
    ended,
    entries,
    in_status,
    journaled,
    runtime_on,
    working,
)
from tests.support.counting_server import CountingServer

STEPS = """
document: {dsl: '1.0.3', namespace: durability, name: steps, version: '1.0.0'}
do:
  - stamp:
      set:
        at: '${ now }'
        name: '${ .name }'
  - first:
      call: http
      with: {method: get, endpoint: 'BASE/ok/first'}
      output: {as: '${ $input + {first: .key} }'}
  - pause:
      wait: {milliseconds: 1000}
  - second:
      call: http
      with: {method: get, endpoint: 'BASE/ok/second?delay=DELAY'}
      output: {as: '${ $input + {second: .key} }'}
"""


def steps(server: CountingServer, delay: float = 0) -> str:
    return STEPS.replace("BASE", server.url).replace("DELAY", str(delay))


async def test_resumes_on_a_new_runtime_without_running_recorded_tasks_again(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(steps(counting)), {"name": "Ada"})
        async with working(first, park_after=60):
            # Stop inside the wait: `stamp` and `first` are recorded, `pause` is not.
            await journaled(store, record.id, "timer", "/do/2/pause")
        stopped_at = time.time()
    released = await store.get_instance(record.id)
    assert released is not None
    assert (released.status, released.owner) == ("running", None)

    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=60):
        done = await ended(store, record.id)

    journal = await store.read_journal(record.id)
    assert done.status == "completed", done.error
    stamp = entries(journal, "task.completed", "/do/0/stamp")[0].data["output"]
    first_key, second_key = call_key(record.id, "/do/1/first"), call_key(record.id, "/do/3/second")
    assert done.output == {
        "at": stamp["at"], "name": "Ada", "first": first_key, "second": second_key
    }
    # `now` was read once, before the interruption: replay returned the recorded value.
    assert stamp["at"] < stopped_at
    assert counting.by_key() == {first_key: 1, second_key: 1}

    def workers(kind: str, position: str) -> list[str | None]:
        return [e.worker for e in entries(journal, kind, position)]

    for position in ("/do/0/stamp", "/do/1/first"):
        assert workers("task.started", position) == ["worker-a"]
        assert workers("task.completed", position) == ["worker-a"]
    # The wait was started by the first worker (once: resuming it is no second
    # start) and finished by the second...
    assert workers("task.started", "/do/2/pause") == ["worker-a"]
    assert workers("timer", "/do/2/pause") == ["worker-a"]
    assert workers("task.completed", "/do/2/pause") == ["worker-b"]
    assert workers("task.started", "/do/3/second") == ["worker-b"]
    assert workers("task.completed", "/do/3/second") == ["worker-b"]
    # ...at the time the first one set for it.
    second_call = counting.named("second")[0].received_at
    assert 0 <= second_call - due(journal, "/do/2/pause").timestamp() < TOLERANCE


async def test_a_call_in_flight_is_sent_again_with_the_same_key(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(steps(counting, delay=1)), {"name": "Bo"})
        async with working(first, park_after=60):
            await asyncio.to_thread(counting.wait_for, "second")
    await in_status(store, record.id, "running", unowned=True)

    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=60):
        done = await ended(store, record.id)

    assert done.status == "completed", done.error
    first_key, second_key = call_key(record.id, "/do/1/first"), call_key(record.id, "/do/3/second")
    assert done.output["second"] == second_key
    # At least once: the interrupted call is repeated, and the service can tell.
    assert counting.by_key() == {first_key: 1, second_key: 2}
    interrupted, repeated = counting.named("second")
    assert interrupted.abandoned and repeated.status == 200


LOOP = """
document: {dsl: '1.0.3', namespace: durability, name: loop, version: '1.0.0'}
do:
  - each:
      for: {in: '${ .items }', each: item}
      do:
        - charge:
            call: http
            with: {method: get, endpoint: 'BASE/ok/charge'}
            export: {as: '${ $context + {($item): .key} }'}
        - breathe:
            wait: {milliseconds: 300}
  - result:
      set: '${ $context | del(.items) }'
"""


async def test_iterations_recorded_before_the_interruption_are_not_run_again(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    items = ["a", "b", "c", "d"]
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(
            load(LOOP.replace("BASE", counting.url)), {"items": items}
        )
        async with working(first, park_after=60):
            # Inside the wait of the second iteration: its call is recorded.
            await journaled(store, record.id, "timer", "/do/0/each[1]/do/1/breathe")
    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=60):
        done = await ended(store, record.id)

    assert done.status == "completed", done.error
    keys = [call_key(record.id, f"/do/0/each[{i}]/do/0/charge") for i in range(len(items))]
    assert done.output == dict(zip(items, keys, strict=True))
    assert counting.by_key() == dict.fromkeys(keys, 1)
    journal = await store.read_journal(record.id)
    assert entries(journal, "task.completed", "/do/0/each[0]/do/0/charge")[0].worker == "worker-a"
    assert entries(journal, "task.completed", "/do/0/each[3]/do/0/charge")[0].worker == "worker-b"


async def test_replay_after_the_end_changes_nothing(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    """Running a completed journal again (a worker that died after the last task,
    before recording the end) runs no effect and gives the same output."""
    async with runtime_on(store_url, "worker-a") as first:
        execution = await first.execute(steps(counting), {"name": "Cy"})
    assert execution.status == "completed"
    record = await store.get_instance(execution.id)
    assert record is not None
    async with runtime_on(store_url, "worker-b") as second:
        instance = await second.resume_instance(record)
        started = datetime.now(UTC)
        again = await execute(instance, resumed=True)
    assert (again.status, again.output) == ("completed", execution.output)
    assert (datetime.now(UTC) - started).total_seconds() < 1  # the wait was not redone
    assert sum(counting.by_key().values()) == 2


NESTED_EXPORT = """
document: {dsl: '1.0.3', namespace: durability, name: nested-export, version: '1.0.0'}
do:
  - outer:
      do:
        - inner:
            set: {x: 1}
            export: {as: '${ {counted: 1} }'}
  - pause: {wait: {milliseconds: 800}}
  - show:
      set: '${ $context }'
"""

NESTED_EXPORT_THEN_FAULT = """
document: {dsl: '1.0.3', namespace: durability, name: nested-export-fault, version: '1.0.0'}
do:
  - guarded:
      try:
        - outer:
            do:
              - inner:
                  set: {x: 1}
                  export: {as: '${ {counted: 1} }'}
              - boom:
                  raise:
                    error: {type: https://example.com/errors/boom, status: 400}
      catch:
        do:
          - pause: {wait: {milliseconds: 800}}
          - show:
              set: '${ $context }'
"""


@pytest.mark.parametrize(
    ("source", "timer"),
    [
        (NESTED_EXPORT, "/do/1/pause"),
        (NESTED_EXPORT_THEN_FAULT, "/do/0/guarded@0/catch/do/0/pause"),
    ],
    ids=["completed", "faulted"],
)
async def test_context_exported_inside_a_recorded_composite_task_survives_replay(
    store_url: str, store: Store, source: str, timer: str
) -> None:
    """A recorded composite task (`outer`) replays as one outcome: the context its
    nested tasks exported must come back with it."""
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(source), {})
        async with working(first, park_after=60):
            await journaled(store, record.id, "timer", timer)
    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=60):
        done = await ended(store, record.id)
    assert (done.status, done.output) == ("completed", {"counted": 1})
