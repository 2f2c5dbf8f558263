"""`listen` (dsl-reference "Listen", "Event Consumption Strategy", "Event
Filter", "Correlation", "Subscription Iterator"), in memory and on both stores:
in memory, events published in the process reach the listeners waiting right
now; on a store, a worker parks each listener out of memory and the dispatcher
wakes it with what it was delivered."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime
from podium.dsl import load
from podium.store import ENDED, Store, open_store
from podium.worker import Worker
from tests.engine.harness import ERRORS, runtime, workflow
from tests.support.postgres import PostgresServer

_ids = itertools.count()


def event(type_: str, data: Any = None, id_: str | None = None, **attributes: Any
          ) -> dict[str, Any]:
    return {"specversion": "1.0", "id": id_ or f"e{next(_ids)}", "source": "tests",
            "type": type_, "data": data, **attributes}


async def _until(check: Any, within: float = 10.0) -> Any:
    for _ in range(int(within / 0.02)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {within}s")


class Listener:
    """One instance under test, whichever host runs it."""

    def __init__(self, host: Host, handle: Any = None, instance_id: str = "") -> None:
        self.host = host
        self.handle = handle
        self.id = handle.id if handle is not None else instance_id

    async def status(self) -> str:
        if self.handle is not None:
            return str(self.handle.status)
        assert self.host.store is not None
        record = await self.host.store.get_instance(self.id)
        assert record is not None
        return record.status

    async def still_waiting(self) -> None:
        """It did not end: in memory it waits; on a store, a delivery it did not
        need woke it and it parks again (waiting, out of memory)."""
        if self.handle is not None:
            assert self.handle.status == "waiting"
            return
        store = self.host.store
        assert store is not None

        async def parked() -> bool:
            record = await store.get_instance(self.id)
            assert record is not None and record.status not in ENDED, record
            return record.status == "waiting" and record.owner is None

        await _until(parked)

    async def ended(self) -> tuple[str, Any, Any]:
        if self.handle is not None:
            execution = await asyncio.wait_for(self.handle.result(), 10)
            error = execution.error.to_dict() if execution.error else None
            return execution.status, execution.output, error
        store = self.host.store
        assert store is not None

        async def check() -> Any:
            record = await store.get_instance(self.id)
            return record if record is not None and record.status in ENDED else None

        record = await _until(check)
        return record.status, record.output, record.error


class Host:
    """A runtime in memory, or on a store with a worker that parks listeners."""

    def __init__(self, runtime: Runtime, store: Store | None = None) -> None:
        self.runtime = runtime
        self.store = store

    async def listening(self, body: str, input: Any = None) -> Listener:
        """Start an instance and return once it waits in its listen."""
        if self.store is None:
            listener = Listener(self, await self.runtime.start(workflow(body), input))
            await _until(lambda: _is(listener, "waiting"))
            return listener
        record, _ = await self.runtime.create_instance(load(workflow(body)), input or {})
        listener = Listener(self, instance_id=record.id)
        store = self.store

        async def parked() -> bool:
            found = await store.get_instance(record.id)
            return found is not None and found.status == "waiting" and found.owner is None \
                and bool(await store.get_subscriptions(record.id))

        await _until(parked)
        return listener

    async def start(self, body: str, input: Any = None) -> Listener:
        if self.store is None:
            return Listener(self, await self.runtime.start(workflow(body), input))
        record, _ = await self.runtime.create_instance(load(workflow(body)), input or {})
        return Listener(self, instance_id=record.id)

    async def publish(self, sent: dict[str, Any]) -> None:
        await self.runtime.publish_event(sent)

    async def quiet(self) -> None:
        """Give a delivery time to arrive (and be wrongly acted on)."""
        await asyncio.sleep(0.05 if self.store is None else 0.3)


async def _is(listener: Listener, status: str) -> bool:
    return await listener.status() == status


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def host(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Host]:
    if request.param == "memory":
        async with runtime() as rt:
            yield Host(rt)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'podium.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    store = open_store(url)
    await store.open()
    rt = Runtime(store=store, worker_id="listen-tests")
    worker = Worker(rt, poll_seconds=0.05)
    stop = asyncio.Event()
    working = asyncio.create_task(worker.run(stop))
    try:
        yield Host(rt, store)
    finally:
        stop.set()
        await asyncio.wait_for(working, 10)
        await rt.aclose()
        await store.close()


async def outcome(listener: Listener) -> Any:
    status, output, error = await listener.ended()
    assert status == "completed", error
    return output


ONE = """
do:
  - wait:
      listen:
        to:
          one:
            with:
              type: com.example.started
"""


async def test_one_waits_for_the_event_and_outputs_its_data_in_an_array(host: Host) -> None:
    listener = await host.listening(ONE)
    await host.publish(event("com.example.other", {"n": 0}))
    await host.quiet()
    await listener.still_waiting()
    await host.publish(event("com.example.started", {"n": 1}))
    assert await outcome(listener) == [{"n": 1}]


async def test_events_before_the_listener_started_are_not_received(host: Host) -> None:
    await host.publish(event("com.example.started", {"n": "early"}))
    await host.quiet()
    listener = await host.listening(ONE)
    await host.publish(event("com.example.started", {"n": "late"}))
    assert await outcome(listener) == [{"n": "late"}]


ANY_EMPTY = """
do:
  - wait:
      listen:
        to:
          any: []
        read: envelope
"""


async def test_any_with_no_filter_takes_any_event_and_envelope_reads_the_whole_event(
    host: Host,
) -> None:
    listener = await host.listening(ANY_EMPTY)
    sent = event("whatever.type", {"x": 1}, subject="s")
    await host.publish(sent)
    assert await outcome(listener) == [sent]


ALL = """
do:
  - wait:
      listen:
        to:
          all:
            - with:
                type: com.fake.temperature
                data: ${ .temperature > 38 }
            - with:
                type: com.fake.bpm
                data: ${ .bpm < 60 or .bpm > 100 }
"""


async def test_all_needs_one_event_per_filter_with_expressions_over_the_data(
    host: Host,
) -> None:
    listener = await host.listening(ALL)
    await host.publish(event("com.fake.temperature", {"temperature": 37}))
    await host.publish(event("com.fake.bpm", {"bpm": 120}))
    await host.publish(event("com.fake.bpm", {"bpm": 130}))  # filter already met
    await host.quiet()
    await listener.still_waiting()
    await host.publish(event("com.fake.temperature", {"temperature": 39}))
    assert await outcome(listener) == [{"bpm": 120}, {"temperature": 39}]


UNTIL_EXPRESSION = """
do:
  - wait:
      listen:
        to:
          any: []
          until: ( . | length ) > 2
"""


async def test_until_expression_sees_the_events_consumed_so_far(host: Host) -> None:
    listener = await host.listening(UNTIL_EXPRESSION)
    for n in range(4):
        await host.publish(event("t", n))
    assert await outcome(listener) == [0, 1, 2]


UNTIL_EVENT = """
do:
  - wait:
      listen:
        to:
          any:
            - with:
                type: bid
          until:
            one:
              with:
                type: closed
"""


async def test_until_strategy_ends_the_listener_and_its_event_is_not_in_the_output(
    host: Host,
) -> None:
    listener = await host.listening(UNTIL_EVENT)
    await host.publish(event("bid", 1))
    await host.publish(event("bid", 2))
    await host.publish(event("closed", "the end"))
    await host.publish(event("bid", 3))
    assert await outcome(listener) == [1, 2]


CORRELATED = """
do:
  - wait:
      listen:
        to:
          any:
            - with:
                type: com.example.bid
              correlate:
                auction:
                  from: ${ .data.auctionId }
                  expect: ${ .auctionId }
          until:
            one:
              with:
                type: com.example.closed
"""


async def test_correlation_with_expect_gives_each_instance_its_own_events(host: Host) -> None:
    first = await host.listening(CORRELATED, {"auctionId": "a-1"})
    second = await host.listening(CORRELATED, {"auctionId": "a-2"})
    await host.publish(event("com.example.bid", {"auctionId": "a-1", "amount": 10}))
    await host.publish(event("com.example.bid", {"auctionId": "a-2", "amount": 20}))
    await host.publish(event("com.example.bid", {"auctionId": "a-1", "amount": 30}))
    await host.publish(event("com.example.closed"))
    assert [b["amount"] for b in await outcome(first)] == [10, 30]
    assert [b["amount"] for b in await outcome(second)] == [20]


FIRST_BINDS = """
do:
  - wait:
      listen:
        to:
          all:
            - with:
                source: https://my.home.com/sensor
                type: my.home.sensors.temperature
              correlate:
                roomId:
                  from: .roomid
            - with:
                type: my.home.sensors.humidity
              correlate:
                roomId:
                  from: .roomid
"""


async def test_correlation_without_expect_is_bound_by_the_first_event(host: Host) -> None:
    listener = await host.listening(FIRST_BINDS)
    home = "https://my.home.com/sensor"
    await host.publish(event("my.home.sensors.temperature", 21, source=home, roomid="kitchen"))
    await host.publish(event("my.home.sensors.humidity", 40, roomid="attic"))
    await host.quiet()
    await listener.still_waiting()
    await host.publish(event("my.home.sensors.humidity", 55, roomid="kitchen"))
    assert await outcome(listener) == [21, 55]


FILTERS = """
do:
  - wait:
      listen:
        to:
          one:
            with:
              type: com\\.example\\.order\\..*
              subject: ^order-[0-9]+$
              data:
                kind: priority
"""


async def test_filters_compare_strings_as_regular_expressions_and_objects_by_members(
    host: Host,
) -> None:
    listener = await host.listening(FILTERS)
    await host.publish(event("com.example.order.placed", {"kind": "normal"}, subject="order-1"))
    await host.publish(event("com.example.order.placed", {"kind": "priority"},
                             subject="order-x"))
    await host.quiet()
    await listener.still_waiting()
    await host.publish(event("com.example.order.placed", {"kind": "priority", "extra": True},
                             subject="order-7"))
    assert await outcome(listener) == [{"kind": "priority", "extra": True}]


FOREACH = """
do:
  - collect:
      listen:
        to:
          any: []
          until: ( . | length ) == 2
      foreach:
        item: e
        at: i
        do:
          - double:
              set:
                value: ${ $e.n * 2 }
                index: ${ $i }
        output:
          as: .value
        export:
          as: '${ $context + {last: . } }'
  - result:
      set:
        values: ${ . }
        last: ${ $context.last }
"""


async def test_foreach_runs_for_each_event_before_the_next(host: Host) -> None:
    listener = await host.listening(FOREACH, {})
    await host.publish(event("t", {"n": 1}))
    await host.publish(event("t", {"n": 5}))
    assert await outcome(listener) == {"values": [2, 10], "last": 10}


TIMEOUT = """
do:
  - wait:
      listen:
        to:
          one:
            with:
              type: never
      timeout:
        after: PT0.2S
"""


async def test_a_task_timeout_ends_the_listener(host: Host) -> None:
    listener = await host.start(TIMEOUT)
    status, _, error = await listener.ended()
    assert status == "faulted"
    assert error is not None and error["type"] == ERRORS + "timeout"
    assert host.runtime._hub.mailboxes == {}
    if host.store is not None:
        assert await host.store.get_subscriptions(listener.id) == []


RAW = """
do:
  - wait:
      listen:
        to:
          all:
            - with: {type: json}
            - with: {type: text}
            - with: {type: binary}
        read: raw
"""


async def test_raw_reads_the_data_as_it_travelled(host: Host) -> None:
    listener = await host.listening(RAW)
    await host.publish(event("json", {"a": [1, 2]}))
    await host.publish(event("text", "plain words", datacontenttype="text/plain"))
    binary = event("binary")
    del binary["data"]
    binary["data_base64"] = "AAEC"
    await host.publish(binary)
    assert await outcome(listener) == ['{"a":[1,2]}', "plain words", "AAEC"]
