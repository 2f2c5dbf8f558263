"""`emit` (dsl-reference "Emit", "Event Properties"): the event goes to the bus
and is the task's output."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from podium.events.bus import InProcessBus
from tests.engine.harness import run

ORDER_PLACED = """
do:
  - emitEvent:
      emit:
        event:
          with:
            source: https://petstore.com
            type: com.petstore.order.placed.v1
            subject: ${ "order-" + (.orderId | tostring) }
            data:
              client: ${ .client }
              items:
                - breed: dalmatian
                  quantity: ${ .quantity }
            traceid: ${ .trace }
"""

INPUT = {"orderId": 12, "client": {"firstName": "Cruella"}, "quantity": 101, "trace": "t-1"}


def _drain(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


async def test_emitted_event_has_the_given_attributes_with_expressions_evaluated() -> None:
    event = await run(ORDER_PLACED, INPUT)
    assert event["source"] == "https://petstore.com"
    assert event["type"] == "com.petstore.order.placed.v1"
    assert event["subject"] == "order-12"
    assert event["data"] == {
        "client": {"firstName": "Cruella"},
        "items": [{"breed": "dalmatian", "quantity": 101}],
    }
    assert event["traceid"] == "t-1"
    assert event["specversion"] == "1.0"


async def test_id_and_time_get_defaults() -> None:
    first = await run(ORDER_PLACED, INPUT)
    second = await run(ORDER_PLACED, INPUT)
    for event in (first, second):
        assert isinstance(event["id"], str)
        assert event["id"]
        moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        assert moment.tzinfo is not None
    assert first["id"] != second["id"]


async def test_given_id_and_time_are_kept() -> None:
    body = """
    do:
      - emitEvent:
          emit:
            event:
              with:
                id: ${ .id }
                time: '2024-07-26T16:59:57Z'
                source: https://petstore.com
                type: com.petstore.order.placed.v1
    """
    event = await run(body, {"id": "evt-1"})
    assert event["id"] == "evt-1"
    assert event["time"] == "2024-07-26T16:59:57Z"


async def test_event_is_published_on_the_bus_and_is_the_output() -> None:
    bus = InProcessBus()
    queue = bus.subscribe()
    output = await run(ORDER_PLACED, INPUT, bus=bus)
    published = _drain(queue)
    assert published == [output]


async def test_each_emit_publishes_one_event_in_order() -> None:
    body = """
    do:
      - loop:
          for:
            in: .items
          do:
            - announce:
                emit:
                  event:
                    with:
                      source: https://example.com/test
                      type: com.example.item.v1
                      data: ${ $item }
    """
    bus = InProcessBus()
    queue = bus.subscribe()
    await run(body, {"items": ["a", "b", "c"]}, bus=bus)
    assert [e["data"] for e in _drain(queue)] == ["a", "b", "c"]


async def test_emit_output_flows_through_output_as() -> None:
    body = """
    do:
      - emitEvent:
          emit:
            event:
              with:
                source: https://example.com/test
                type: com.example.ping.v1
                data: {n: 1}
          output:
            as: .data
    """
    assert await run(body) == {"n": 1}
