"""Poison instances (issue 7, items 4 and 5): an instance that keeps taking its
worker down is quarantined instead of taking down every worker after it, while
instances that make progress between crashes are never quarantined.

Real worker processes, killed with SIGKILL (``kill -9``) at a point where the
poison instance makes no progress (its call is in flight), and stopped by the
stall watchdog when an instance blocks the event loop.
"""

from __future__ import annotations

import pytest

from podium import load
from podium.limits import MAX_CRASHES
from podium.store import FAULTED, RETRY, InstanceRecord, Store, quarantined
from tests.durability.helpers import ended, eventually, runtime_on
from tests.durability.workers import Workers
from tests.support.counting_server import CountingServer

# Its call is held by the server for a while: every kill lands while it is in flight.
POISON = """
document: {dsl: '1.0.3', namespace: crash, name: poison, version: '1.0.0'}
do:
  - call:
      call: http
      with: {method: get, endpoint: 'BASE/ok/poison?delay=4'}
"""

# Short steps, each journaled: it progresses between any two kills.
HEALTHY = """
document: {dsl: '1.0.3', namespace: crash, name: healthy, version: '1.0.0'}
do:
  - one: {wait: {milliseconds: 300}}
  - two: {wait: {milliseconds: 300}}
  - three: {wait: {milliseconds: 300}}
  - four: {wait: {milliseconds: 300}}
  - five: {wait: {milliseconds: 300}}
  - six: {wait: {milliseconds: 300}}
  - seven: {wait: {milliseconds: 300}}
  - eight: {wait: {milliseconds: 300}}
  - done: {set: {healthy: true}}
"""


async def _journal_length(store: Store, instance_id: str) -> int:
    return len(await store.read_journal(instance_id))


async def test_a_poison_instance_is_quarantined_and_a_healthy_one_is_not(
    store_url: str, store: Store, counting: CountingServer, workers: Workers
) -> None:
    async with runtime_on(store_url, "creator") as runtime:
        poison, _ = await runtime.create_instance(load(POISON.replace("BASE", counting.url)), {})
        healthy, _ = await runtime.create_instance(load(HEALTHY), {})

    # The first crash stops both instances together: it makes them suspects but
    # cannot tell whose fault it was, nor can the next, in company again (each was
    # claimed before it was a suspect). From then on the poison runs alone, and
    # every crash is its own: MAX_CRASHES of those, one in company before.
    kills = MAX_CRASHES + 1
    for kill in range(kills):
        progress = await _journal_length(store, healthy.id)
        worker = await workers.start(store_url, "--park-after", "60")

        async def ready(number: int = kill + 1, before: int = progress) -> bool:
            # The poison's call is in flight (the server holds it); the first two
            # times, the healthy instance progresses beside it.
            in_flight = len(counting.named("poison")) == number
            return in_flight and (number > 2 or await _journal_length(store, healthy.id) > before)

        await eventually(ready, within=20)
        worker.kill()
        record = await store.get_instance(poison.id)
        assert record is not None and record.status != FAULTED

    survivor = await workers.start(store_url, "--park-after", "60")
    done = await ended(store, poison.id, within=15)
    assert quarantined(done) and done.crashes == MAX_CRASHES
    assert done.error is not None and done.error["title"] == "Quarantined"
    assert f"stopped its worker {MAX_CRASHES} times" in done.error["detail"]
    assert "podium instances retry" in done.error["detail"]
    # Not run again: the server saw it once per crash, never once more.
    assert len(counting.named("poison")) == kills
    journal = await store.read_journal(poison.id)
    assert [(e.kind, e.data, e.worker) for e in journal if e.kind.startswith("instance.")] == [
        ("instance.quarantined", {"crashes": MAX_CRASHES, "limit": MAX_CRASHES},
         survivor.worker_id)
    ]

    finished = await ended(store, healthy.id, within=20)
    assert (finished.status, finished.output, finished.crashes) == (
        "completed", {"healthy": True}, 0
    )

    # An operator retries it: it runs again, from its journal, and completes.
    retried = await store.request(poison.id, RETRY, by="test")
    assert retried is not None and (retried.status, retried.crashes) == ("pending", 0)
    completed: InstanceRecord = await ended(store, poison.id, within=15)
    assert completed.status == "completed", completed.error
    assert not quarantined(completed)
    assert len(counting.named("poison")) == kills + 1


BLOCKING = """
document: {dsl: '1.0.3', namespace: crash, name: blocking, version: '1.0.0'}
do:
  - first: {set: {step: 1}}
  - block: {set: {step: 2}}
"""


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_stall_watchdog_ends_a_worker_whose_event_loop_is_blocked(
    store_url: str, store: Store, workers: Workers
) -> None:
    async with runtime_on(store_url, "creator") as runtime:
        record, _ = await runtime.create_instance(load(BLOCKING), {})

    # A listener stands in for a C library that loops: it blocks the event loop.
    stalled = await workers.start(store_url, "--stall-limit", "2", "--block-on", "block")

    async def exited() -> bool:
        return stalled.process.poll() is not None

    await eventually(exited, within=30)
    assert stalled.process.returncode == 1
    output = stalled.output()
    assert "Timeout (0:00:02)!" in output
    assert "time.sleep" in output or "in listen" in output  # where it was stuck

    # The next worker takes the instance over (its owner is dead) and counts the
    # crash against it: with --max-crashes 1, that is enough to quarantine it.
    await workers.start(store_url, "--max-crashes", "1")
    done = await ended(store, record.id, within=15)
    assert quarantined(done) and done.crashes == 1

    await store.request(record.id, RETRY)
    done = await ended(store, record.id, within=15)
    assert (done.status, done.output, done.crashes) == ("completed", {"step": 2}, 0)
