"""``schedule.on`` registers a subscription that the event dispatcher answers by
starting an instance (``start_scheduled``)."""

from __future__ import annotations

import asyncio
from typing import Any

from podium.store import Store
from podium.worker import Worker
from tests.scheduling.support import Runtimes, scheduled


def alert(id_: str, severity: str = "high", type_: str = "com.example.alert") -> dict[str, Any]:
    return {"specversion": "1.0", "id": id_, "source": "https://monitor.example", "type": type_,
            "data": {"severity": severity}}


async def started(store: Store, count: int) -> list[Any]:
    for _ in range(400):
        found = [r for r in await store.list_instances() if r.name == "nightly"]
        if len(found) >= count and all(r.status == "completed" for r in found):
            return sorted(found, key=lambda r: r.created_at)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} scheduled instances did not complete")

ON = {"on": {"one": {"with": {"type": "com.example.alert", "source": "https://monitor.example"}}}}


async def test_deploying_an_on_schedule_subscribes_it(store: Store, runtime_on: Runtimes) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled(ON))
        [row] = await store.list_schedules()
        assert (row.kind, row.next_due) == ("on", None)
        [subscription] = await store.get_subscriptions("schedule:test/nightly")
        assert subscription.position == "/schedule/on"
        assert subscription.types == ("com.example.alert",)
        assert subscription.spec["strategy"] == "one"
        assert subscription.spec["filters"] == [{"with": {"type": "com.example.alert",
                                                          "source": "https://monitor.example"}}]
        assert subscription.spec["version"] == "0.1.0"
        # A newer version on a timer ends the subscription.
        await runtime.deploy(scheduled({"every": "PT1H"}, version="0.2.0"))
        assert await store.get_subscriptions("schedule:test/nightly") == []


async def test_matching_events_start_instances_whose_input_is_the_events(
    store: Store, runtime_on: Runtimes
) -> None:
    tasks = [{"first": {"set": {"severity": "${ $workflow.input[0].data.severity }",
                                "events": "${ length }"}}}]
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled(ON, tasks=tasks))
        stop = asyncio.Event()
        working = asyncio.ensure_future(Worker(runtime, poll_seconds=0.05).run(stop))
        try:
            await runtime.publish_event(alert("a1", "low", type_="com.example.other"))
            await runtime.publish_event(alert("a2", "high"))
            await runtime.publish_event(alert("a2", "high"))  # the same event: once
            await runtime.publish_event(alert("a3", "low"))
            done = await started(store, 2)
        finally:
            stop.set()
            await asyncio.wait_for(working, 10)
        assert [r.output for r in done] == [{"severity": "high", "events": 1},
                                            {"severity": "low", "events": 1}]
        assert done[0].input[0]["id"] == "a2"
        assert done[0].key is not None and done[0].key.startswith("schedule:test/nightly:event:")


async def test_an_all_schedule_starts_once_every_filter_has_an_event(
    store: Store, runtime_on: Runtimes
) -> None:
    on = {"on": {"all": [{"with": {"type": "com.example.a"}},
                         {"with": {"type": "com.example.b"}}]}}
    tasks = [{"ids": {"set": {"ids": "${ map(.id) }"}}}]
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled(on, tasks=tasks))
        stop = asyncio.Event()
        working = asyncio.ensure_future(Worker(runtime, poll_seconds=0.05).run(stop))
        try:
            await runtime.publish_event(alert("b1", type_="com.example.b"))
            await runtime.publish_event(alert("b2", type_="com.example.b"))
            await runtime.publish_event(alert("a1", type_="com.example.a"))
            (done,) = await started(store, 1)
        finally:
            stop.set()
            await asyncio.wait_for(working, 10)
        assert done.output == {"ids": ["b1", "a1"]}


async def test_an_on_schedule_reads_the_events_as_it_says(store: Store, runtime_on: Runtimes
                                                          ) -> None:
    on = {"on": {"one": {"with": {"type": "com.example.alert"}}, "read": "data"}}
    tasks = [{"first": {"set": {"input": "${ $workflow.input }"}}}]
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled(on, tasks=tasks))
        stop = asyncio.Event()
        working = asyncio.ensure_future(Worker(runtime, poll_seconds=0.05).run(stop))
        try:
            await runtime.publish_event(alert("r1", "low"))
            (done,) = await started(store, 1)
        finally:
            stop.set()
            await asyncio.wait_for(working, 10)
        assert done.output == {"input": [{"severity": "low"}]}
