"""`listen` in memory (dsl-reference "Listen", "Event Consumption Strategy",
"Event Filter", "Correlation", "Subscription Iterator"): events published in the
process reach the listeners waiting right now."""

from __future__ import annotations

import asyncio
from typing import Any

from podium import Runtime
from tests.engine.harness import ERRORS, runtime, workflow


def event(type_: str, data: Any = None, id_: str | None = None, **attributes: Any
          ) -> dict[str, Any]:
    event.count += 1  # type: ignore[attr-defined]
    return {"specversion": "1.0", "id": id_ or f"e{event.count}",  # type: ignore[attr-defined]
            "source": "tests", "type": type_, "data": data, **attributes}


event.count = 0  # type: ignore[attr-defined]


async def listening(rt: Runtime, body: str, input: Any = None) -> Any:
    handle = await rt.start(workflow(body), input)
    for _ in range(200):
        if handle.status == "waiting":
            return handle
        await asyncio.sleep(0.01)
    raise AssertionError(f"the instance is {handle.status}, not waiting")


async def outcome(handle: Any) -> Any:
    execution = await asyncio.wait_for(handle.result(), 5)
    assert execution.status == "completed", execution.error
    return execution.output


ONE = """
do:
  - wait:
      listen:
        to:
          one:
            with:
              type: com.example.started
"""


async def test_one_waits_for_the_event_and_outputs_its_data_in_an_array() -> None:
    async with runtime() as rt:
        handle = await listening(rt, ONE)
        await rt.publish_event(event("com.example.other", {"n": 0}))
        await asyncio.sleep(0.05)
        assert handle.status == "waiting"
        await rt.publish_event(event("com.example.started", {"n": 1}))
        assert await outcome(handle) == [{"n": 1}]


async def test_events_before_the_listener_started_are_not_received() -> None:
    async with runtime() as rt:
        await rt.publish_event(event("com.example.started", {"n": "early"}))
        handle = await listening(rt, ONE)
        await rt.publish_event(event("com.example.started", {"n": "late"}))
        assert await outcome(handle) == [{"n": "late"}]


ANY_EMPTY = """
do:
  - wait:
      listen:
        to:
          any: []
        read: envelope
"""


async def test_any_with_no_filter_takes_any_event_and_envelope_reads_the_whole_event() -> None:
    async with runtime() as rt:
        handle = await listening(rt, ANY_EMPTY)
        sent = event("whatever.type", {"x": 1}, subject="s")
        await rt.publish_event(sent)
        assert await outcome(handle) == [sent]


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


async def test_all_needs_one_event_per_filter_with_expressions_over_the_data() -> None:
    async with runtime() as rt:
        handle = await listening(rt, ALL)
        await rt.publish_event(event("com.fake.temperature", {"temperature": 37}))
        await rt.publish_event(event("com.fake.bpm", {"bpm": 120}))
        await rt.publish_event(event("com.fake.bpm", {"bpm": 130}))  # filter already met
        await asyncio.sleep(0.05)
        assert handle.status == "waiting"
        await rt.publish_event(event("com.fake.temperature", {"temperature": 39}))
        assert await outcome(handle) == [{"bpm": 120}, {"temperature": 39}]


UNTIL_EXPRESSION = """
do:
  - wait:
      listen:
        to:
          any: []
          until: ( . | length ) > 2
"""


async def test_until_expression_sees_the_events_consumed_so_far() -> None:
    async with runtime() as rt:
        handle = await listening(rt, UNTIL_EXPRESSION)
        for n in range(4):
            await rt.publish_event(event("t", n))
        assert await outcome(handle) == [0, 1, 2]


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


async def test_until_strategy_ends_the_listener_and_its_event_is_not_in_the_output() -> None:
    async with runtime() as rt:
        handle = await listening(rt, UNTIL_EVENT)
        await rt.publish_event(event("bid", 1))
        await rt.publish_event(event("bid", 2))
        await rt.publish_event(event("closed", "the end"))
        await rt.publish_event(event("bid", 3))
        assert await outcome(handle) == [1, 2]


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


async def test_correlation_with_expect_gives_each_instance_its_own_events() -> None:
    async with runtime() as rt:
        first = await listening(rt, CORRELATED, {"auctionId": "a-1"})
        second = await listening(rt, CORRELATED, {"auctionId": "a-2"})
        await rt.publish_event(event("com.example.bid", {"auctionId": "a-1", "amount": 10}))
        await rt.publish_event(event("com.example.bid", {"auctionId": "a-2", "amount": 20}))
        await rt.publish_event(event("com.example.bid", {"auctionId": "a-1", "amount": 30}))
        await rt.publish_event(event("com.example.closed"))
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


async def test_correlation_without_expect_is_bound_by_the_first_event() -> None:
    async with runtime() as rt:
        handle = await listening(rt, FIRST_BINDS)
        home = "https://my.home.com/sensor"
        await rt.publish_event(event("my.home.sensors.temperature", 21, source=home,
                                     roomid="kitchen"))
        await rt.publish_event(event("my.home.sensors.humidity", 40, roomid="attic"))
        await asyncio.sleep(0.05)
        assert handle.status == "waiting"
        await rt.publish_event(event("my.home.sensors.humidity", 55, roomid="kitchen"))
        assert await outcome(handle) == [21, 55]


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


async def test_filters_compare_strings_as_regular_expressions_and_objects_by_members() -> None:
    async with runtime() as rt:
        handle = await listening(rt, FILTERS)
        await rt.publish_event(event("com.example.order.placed", {"kind": "normal"},
                                     subject="order-1"))
        await rt.publish_event(event("com.example.order.placed", {"kind": "priority"},
                                     subject="order-x"))
        await asyncio.sleep(0.05)
        assert handle.status == "waiting"
        await rt.publish_event(event("com.example.order.placed",
                                     {"kind": "priority", "extra": True}, subject="order-7"))
        assert await outcome(handle) == [{"kind": "priority", "extra": True}]


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


async def test_foreach_runs_for_each_event_before_the_next() -> None:
    async with runtime() as rt:
        handle = await listening(rt, FOREACH, {})
        await rt.publish_event(event("t", {"n": 1}))
        await rt.publish_event(event("t", {"n": 5}))
        assert await outcome(handle) == {"values": [2, 10], "last": 10}


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


async def test_a_task_timeout_ends_the_listener() -> None:
    async with runtime() as rt:
        execution = await rt.execute(workflow(TIMEOUT))
        assert execution.status == "faulted"
        assert execution.error is not None
        assert execution.error.type == ERRORS + "timeout"
        assert rt._hub.mailboxes == {}
