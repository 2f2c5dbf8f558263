"""Timers journal their due time: a wait, a retry delay and a task timeout keep
counting from when they first started, across stops, parks and restarts."""

from __future__ import annotations

import asyncio

import pytest

from podium import load
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

PAUSE = """
document: {dsl: '1.0.3', namespace: durability, name: pause, version: '1.0.0'}
do:
  - before:
      set: {step: before}
  - pause:
      wait: {milliseconds: 1500}
  - after:
      call: http
      with: {method: get, endpoint: 'BASE/ok/after'}
"""


async def test_a_parked_wait_fires_at_its_original_due_time_on_another_worker(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(PAUSE.replace("BASE", counting.url)), {})
        async with working(first, park_after=0.5):
            parked = await in_status(store, record.id, "waiting", unowned=True)
    journal = await store.read_journal(record.id)
    due_at = due(journal, "/do/1/pause")
    assert parked.wake_at == due_at
    # Nobody holds it while it sleeps; a new worker wakes it when it is due.
    await asyncio.sleep(0.3)
    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=0.5):
        done = await ended(store, record.id)
    assert done.status == "completed", done.error
    assert done.output == {"name": "after", "key": call_key(record.id, "/do/2/after")}
    (hit,) = counting.named("after")
    assert 0 <= hit.received_at - due_at.timestamp() < TOLERANCE


RETRIED = """
document: {dsl: '1.0.3', namespace: durability, name: retried, version: '1.0.0'}
do:
  - attempt:
      try:
        - flaky:
            call: http
            with: {method: get, endpoint: 'BASE/flaky/payment?fail=1'}
      catch:
        errors: {with: {status: 503}}
        retry:
          delay: {milliseconds: 1500}
          limit: {attempt: {count: 2}}
"""


@pytest.mark.parametrize("park_after", [0.5, 60], ids=["parked", "in-memory"])
async def test_a_retry_delay_survives_a_restart(
    store_url: str, store: Store, counting: CountingServer, park_after: float
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(RETRIED.replace("BASE", counting.url)), {})
        async with working(first, park_after=park_after):
            await journaled(store, record.id, "timer", "/do/0/attempt@0/retry")
    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=0.5):
        done = await ended(store, record.id)

    assert done.status == "completed", done.error
    first_try = call_key(record.id, "/do/0/attempt@0/try/0/flaky")
    second_try = call_key(record.id, "/do/0/attempt@1/try/0/flaky")
    assert done.output == {"name": "payment", "key": second_try}
    # The failed attempt is recorded: it is not sent again after the restart.
    assert counting.by_key() == {first_try: 1, second_try: 1}
    journal = await store.read_journal(record.id)
    retry_due = due(journal, "/do/0/attempt@0/retry").timestamp()
    failed, retried = counting.named("payment")
    assert failed.status == 503
    assert 0 <= retried.received_at - retry_due < TOLERANCE
    assert entries(journal, "task.faulted", "/do/0/attempt@0/try/0/flaky")[0].worker == "worker-a"


TIMED = """
document: {dsl: '1.0.3', namespace: durability, name: timed, version: '1.0.0'}
do:
  - slow:
      timeout: {after: {seconds: 2}}
      call: http
      with: {method: get, endpoint: 'BASE/ok/slow?delay=30'}
"""


async def test_a_task_timeout_counts_from_the_first_start(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    async with runtime_on(store_url, "worker-a") as first:
        record, _ = await first.create_instance(load(TIMED.replace("BASE", counting.url)), {})
        async with working(first, park_after=60):
            await asyncio.to_thread(counting.wait_for, "slow")
            await asyncio.sleep(0.5)
    async with runtime_on(store_url, "worker-b") as second, working(second, park_after=60):
        done = await ended(store, record.id)

    assert done.status == "faulted"
    assert done.error is not None and done.error["type"].endswith("/timeout")
    journal = await store.read_journal(record.id)
    deadline = due(journal, "/do/0/slow#timeout").timestamp()
    first_start = entries(journal, "task.started", "/do/0/slow")[0].at.timestamp()
    assert deadline - first_start == pytest.approx(2, abs=0.1)
    # The second worker gave the call only what was left of the two seconds.
    (faulted,) = entries(journal, "task.faulted", "/do/0/slow")
    assert faulted.worker == "worker-b"
    assert 0 <= faulted.at.timestamp() - deadline < TOLERANCE
    assert [hit.key for hit in counting.named("slow")] == [call_key(record.id, "/do/0/slow")] * 2


WORKFLOW_TIMEOUT = """
document: {dsl: '1.0.3', namespace: durability, name: bounded, version: '1.0.0'}
timeout: {after: {seconds: 1}}
do:
  - nap: {wait: {seconds: 30}}
"""

TASK_TIMEOUT = """
document: {dsl: '1.0.3', namespace: durability, name: bounded, version: '1.0.0'}
do:
  - bounded:
      timeout: {after: {seconds: 1}}
      do:
        - nap: {wait: {seconds: 30}}
"""


@pytest.mark.parametrize("source", [WORKFLOW_TIMEOUT, TASK_TIMEOUT], ids=["workflow", "task"])
async def test_a_timeout_fires_on_time_while_its_instance_is_parked(
    store_url: str, store: Store, source: str
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(source), {})
        async with working(runtime, park_after=0.5):
            parked = await in_status(store, record.id, "waiting", unowned=True)
            done = await ended(store, record.id)
    # Parked until the timeout, not until the end of the 30 s wait.
    assert parked.wake_at is not None and done.started_at is not None
    assert (parked.wake_at - done.started_at).total_seconds() == pytest.approx(1, abs=0.1)
    assert done.status == "faulted"
    assert done.error is not None and done.error["type"].endswith("/timeout")
    assert done.ended_at is not None
    assert 0 <= (done.ended_at - parked.wake_at).total_seconds() < TOLERANCE
