"""Real crashes: worker processes killed with SIGKILL at chosen points.

Each workflow calls the counting server, with waits and a slow answer to open
the kill windows: before an effect (inside a wait), during one (the server
holds its answer), after one, inside a retry delay and while parked. After the
kill a new worker takes over; every instance must complete with the right
output, every call recorded before the crash must have reached the server
exactly once, none may be lost, and timers must fire when they were first due.

With two workers sharing PostgreSQL and one killed, the survivor takes the dead
one's instances only once their leases ran out, and no instance ever has two
owners at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from podium import load
from podium.store import InstanceRecord, Store
from tests.durability.helpers import (
    TOLERANCE,
    call_key,
    due,
    ended,
    entries,
    eventually,
    journaled,
    runtime_on,
)
from tests.durability.workers import Workers
from tests.support.counting_server import CountingServer

WAIT_THEN_CALL = """
document: {dsl: '1.0.3', namespace: crash, name: wait-then-call, version: '1.0.0'}
do:
  - pause: {wait: {milliseconds: 2500}}
  - call:
      call: http
      with: {method: get, endpoint: 'BASE/ok/before'}
"""

SLOW_CALL = """
document: {dsl: '1.0.3', namespace: crash, name: slow-call, version: '1.0.0'}
do:
  - call:
      call: http
      with: {method: get, endpoint: 'BASE/ok/during?delay=3'}
"""

CALL_WAIT_CALL = """
document: {dsl: '1.0.3', namespace: crash, name: call-wait-call, version: '1.0.0'}
do:
  - first:
      call: http
      with: {method: get, endpoint: 'BASE/ok/after-first'}
      output: {as: '${ {first: .key} }'}
  - pause: {wait: {milliseconds: 2500}}
  - second:
      call: http
      with: {method: get, endpoint: 'BASE/ok/after-second'}
      output: {as: '${ $input + {second: .key} }'}
"""

RETRIED = """
document: {dsl: '1.0.3', namespace: crash, name: retried, version: '1.0.0'}
do:
  - attempt:
      try:
        - flaky:
            call: http
            with: {method: get, endpoint: 'BASE/flaky/retry?fail=1'}
      catch:
        retry:
          delay: {milliseconds: 2500}
          limit: {attempt: {count: 2}}
"""

PARKED = """
document: {dsl: '1.0.3', namespace: crash, name: parked, version: '1.0.0'}
do:
  - pause: {wait: {seconds: 4}}
  - call:
      call: http
      with: {method: get, endpoint: 'BASE/ok/parked'}
"""

# In-memory waits (2.5 s) stay below this; the 4 s one parks.
PARK_AFTER = "3"


@dataclass
class Scenario:
    """One instance and the point it must have reached when the worker is killed."""

    record: InstanceRecord
    kind: str  # a journal entry kind, or "call" for a request the server holds
    position: str


async def _create(store_url: str, server: CountingServer) -> dict[str, Scenario]:
    async with runtime_on(store_url, "creator") as runtime:

        async def create(source: str) -> InstanceRecord:
            record, _ = await runtime.create_instance(load(source.replace("BASE", server.url)), {})
            return record

        return {
            "wait": Scenario(await create(WAIT_THEN_CALL), "timer", "/do/0/pause"),
            "during": Scenario(await create(SLOW_CALL), "call", "during"),
            "after": Scenario(await create(CALL_WAIT_CALL), "timer", "/do/1/pause"),
            "retry": Scenario(await create(RETRIED), "timer", "/do/0/attempt@0/retry"),
            "parked": Scenario(await create(PARKED), "timer", "/do/0/pause"),
        }


async def _reached(store: Store, server: CountingServer, scenario: Scenario) -> None:
    if scenario.kind == "call":
        await eventually(_async(lambda: server.named(scenario.position)))
    else:
        await journaled(store, scenario.record.id, scenario.kind, scenario.position)


def _async(check: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        return check()

    return call


async def test_a_killed_worker_loses_nothing_and_repeats_only_calls_in_flight(
    store_url: str, store: Store, counting: CountingServer, workers: Workers
) -> None:
    scenarios = await _create(store_url, counting)
    doomed = await workers.start(store_url, "--park-after", PARK_AFTER)
    for scenario in scenarios.values():
        await _reached(store, counting, scenario)
    parked = scenarios["parked"].record.id
    await eventually(_status(store, parked, "waiting"))
    # The next worker is up before the kill, so that its start-up time does not
    # delay the timers. Default ids (host:pid): it sees that the owner died and
    # takes over at once, without waiting for the leases to expire.
    survivor = await workers.start(store_url, "--park-after", PARK_AFTER)
    assert survivor.worker_id != doomed.worker_id
    doomed.kill()
    killed_at = time.time()

    done = {name: await ended(store, s.record.id, within=15) for name, s in scenarios.items()}
    assert {name: r.status for name, r in done.items()} == dict.fromkeys(scenarios, "completed")
    ids = {name: s.record.id for name, s in scenarios.items()}
    key = {
        "wait": call_key(ids["wait"], "/do/1/call"),
        "during": call_key(ids["during"], "/do/0/call"),
        "after-first": call_key(ids["after"], "/do/0/first"),
        "after-second": call_key(ids["after"], "/do/2/second"),
        "failed": call_key(ids["retry"], "/do/0/attempt@0/try/0/flaky"),
        "retried": call_key(ids["retry"], "/do/0/attempt@1/try/0/flaky"),
        "parked": call_key(ids["parked"], "/do/1/call"),
    }
    assert done["wait"].output == {"name": "before", "key": key["wait"]}
    assert done["during"].output == {"name": "during", "key": key["during"]}
    assert done["after"].output == {"first": key["after-first"], "second": key["after-second"]}
    assert done["retry"].output == {"name": "retry", "key": key["retried"]}
    assert done["parked"].output == {"name": "parked", "key": key["parked"]}

    # Exactly once, except the call the server was holding when the worker died:
    # it was abandoned, then sent again with the same key.
    assert counting.by_key() == {**dict.fromkeys(key.values(), 1), key["during"]: 2}
    abandoned, answered = counting.named("during")
    assert abandoned.abandoned and abandoned.received_at < killed_at
    assert answered.status == 200 and answered.received_at > killed_at

    # Timers fired when they were first due, although their worker died meanwhile.
    async def fired(scenario: str, timer: str, name: str) -> float:
        journal = await store.read_journal(ids[scenario])
        (hit,) = [h for h in counting.named(name) if h.status == 200]
        return hit.received_at - due(journal, timer).timestamp()

    assert 0 <= await fired("wait", "/do/0/pause", "before") < TOLERANCE
    assert 0 <= await fired("after", "/do/1/pause", "after-second") < TOLERANCE
    assert 0 <= await fired("retry", "/do/0/attempt@0/retry", "retry") < TOLERANCE
    assert 0 <= await fired("parked", "/do/0/pause", "parked") < TOLERANCE

    # What the dead worker recorded stays its own; the rest is the survivor's.
    journal = await store.read_journal(ids["after"])
    assert [e.worker for e in entries(journal, "task.completed", "/do/0/first")] == [
        doomed.worker_id
    ]
    assert [e.worker for e in entries(journal, "task.completed", "/do/2/second")] == [
        survivor.worker_id
    ]


SPREAD = """
document: {dsl: '1.0.3', namespace: crash, name: spread, version: '1.0.0'}
do:
  - one:
      call: http
      with: {method: get, endpoint: 'BASE/ok/one'}
      output: {as: '${ {one: .key} }'}
  - pause: {wait: {milliseconds: 1500}}
  - two:
      call: http
      with: {method: get, endpoint: 'BASE/ok/two'}
      output: {as: '${ $input + {two: .key} }'}
"""

LEASE = "1.5"


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_the_surviving_worker_takes_over_once_the_leases_expire(
    store_url: str, store: Store, counting: CountingServer, workers: Workers
) -> None:
    options = ("--lease", LEASE, "--concurrency", "3", "--park-after", "60")
    first = await workers.start(store_url, "--worker-id", "worker-a", *options)
    second = await workers.start(store_url, "--worker-id", "worker-b", *options)
    async with runtime_on(store_url, "creator") as runtime:
        definition = load(SPREAD.replace("BASE", counting.url))
        records = [(await runtime.create_instance(definition, {}))[0] for _ in range(6)]
    for record in records:
        await journaled(store, record.id, "timer", "/do/1/pause")
    owners = {r.id: (await store.get_instance(r.id)).owner for r in records}  # type: ignore[union-attr]
    assert sorted(str(owner) for owner in owners.values()) == ["worker-a"] * 3 + ["worker-b"] * 3

    first.kill()
    killed_at = time.time()
    orphans = {
        r.id: r.lease_expires_at
        for r in [await store.get_instance(i) for i, owner in owners.items() if owner == "worker-a"]
        if r is not None
    }
    done = [await ended(store, r.id, within=15) for r in records]
    assert [r.status for r in done] == ["completed"] * 6
    for record in done:
        assert record.output == {
            "one": call_key(record.id, "/do/0/one"), "two": call_key(record.id, "/do/2/two")
        }
    assert counting.by_key() == {
        call_key(r.id, position): 1 for r in records for position in ("/do/0/one", "/do/2/two")
    }

    for instance_id, lease_expired in orphans.items():
        journal = await store.read_journal(instance_id)
        by = [e.worker for e in journal]
        # One owner after the other, never both: all of worker-a's lines come first...
        switch = by.index("worker-b")
        assert set(by[:switch]) == {"worker-a"} and set(by[switch:]) == {"worker-b"}
        assert journal[switch - 1].at.timestamp() < killed_at
        # ...and worker-b wrote nothing before worker-a's lease had run out.
        assert lease_expired is not None and journal[switch].at >= lease_expired
        (two,) = [h for h in counting.named("two") if h.key == call_key(instance_id, "/do/2/two")]
        assert two.received_at >= lease_expired.timestamp()
    assert second.process.poll() is None


def _status(store: Store, instance_id: str, status: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        record = await store.get_instance(instance_id)
        return record is not None and record.status == status

    return check
