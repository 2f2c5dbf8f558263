"""`listen` on a store (SQLite and PostgreSQL): events enter the inbox, the
dispatcher matches them to parked listeners, each listener journals what it
consumed; kill -9 and two workers change nothing of what an instance receives."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from podium.dsl import load
from podium.store import JournalEntry, Store
from tests.durability.helpers import (
    ended,
    entries,
    eventually,
    in_status,
    runtime_on,
    working,
)
from tests.durability.workers import Workers
from tests.engine.harness import workflow

_ids = itertools.count()


def event(type_: str, data: Any = None, **attributes: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"ev-{next(_ids)}", "source": "tests", "type": type_,
            "data": data, **attributes}


AUCTION = workflow("""
do:
  - bids:
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
              correlate:
                auction:
                  from: ${ .data.auctionId }
                  expect: ${ .auctionId }
  - winner:
      set:
        winner: ${ max_by(.amount) | .bidder }
        bids: ${ length }
""", name="auction")


async def listening(store: Store, instance_id: str) -> None:
    """Parked in its listen: waiting, out of memory, subscribed."""
    await in_status(store, instance_id, "waiting", unowned=True)
    await eventually(lambda: store.get_subscriptions(instance_id))


async def test_parked_listeners_get_their_own_correlated_events(store_url: str,
                                                                store: Store) -> None:
    async with runtime_on(store_url, "w1") as runtime, working(runtime):
        definition = load(AUCTION)
        first, _ = await runtime.create_instance(definition, {"auctionId": "a-1"})
        second, _ = await runtime.create_instance(definition, {"auctionId": "a-2"})
        await listening(store, first.id)
        await listening(store, second.id)
        record = await store.get_instance(first.id)
        assert record is not None and record.wake_at is None
        for bidder, auction, amount in [("ann", "a-1", 10), ("bob", "a-2", 50),
                                        ("cid", "a-1", 30), ("dan", "a-1", 20)]:
            await runtime.publish_event(event("com.example.bid", {
                "auctionId": auction, "bidder": bidder, "amount": amount}))
        await runtime.publish_event(event("com.example.closed", {"auctionId": "a-1"}))
        done = await ended(store, first.id)
        assert done.status == "completed", done.error
        assert done.output == {"winner": "cid", "bids": 3}
        still = await store.get_instance(second.id)
        assert still is not None and still.status == "waiting"
        await runtime.publish_event(event("com.example.closed", {"auctionId": "a-2"}))
        assert (await ended(store, second.id)).output == {"winner": "bob", "bids": 1}
        # Whoever ends stops listening.
        assert await store.get_subscriptions(first.id) == []


ALL_OF_THREE = workflow("""
do:
  - readings:
      listen:
        to:
          all:
            - with: {type: reading.a}
            - with: {type: reading.b}
            - with: {type: reading.c}
        read: envelope
""", name="readings")


@pytest.mark.timeout(90)
async def test_a_listener_killed_with_two_of_three_events_completes_on_the_third(
    store_url: str, store: Store, workers: Workers
) -> None:
    async with runtime_on(store_url, "client") as client:
        record, _ = await client.create_instance(load(ALL_OF_THREE), {})
        worker = await workers.start(store_url, "--lease", "2")
        await listening(store, record.id)
        first, second = event("reading.a", 1), event("reading.b", 2)
        await client.publish_event(first)
        await client.publish_event(second)

        async def two_consumed() -> bool:
            journal = await store.read_journal(record.id)
            return len([e for e in journal if e.kind == "event.received"]) == 2

        await eventually(two_consumed, within=20)
        worker.kill()
        await workers.start(store_url, "--lease", "2")
        await listening(store, record.id)
        third = event("reading.c", 3)
        await client.publish_event(third)
        done = await ended(store, record.id, within=30)
        assert done.status == "completed", done.error
        assert [e["id"] for e in done.output] == [first["id"], second["id"], third["id"]]
        journal = await store.read_journal(record.id)
        received = [e.data["key"] for e in journal if e.kind == "event.received"]
        assert len(received) == len(set(received)) == 3


ONE = workflow("""
do:
  - ping:
      listen:
        to:
          one:
            with:
              type: com.example.ping
              subject: ${ . == $workflow.input.who }
""", name="ping")


@pytest.mark.timeout(90)
async def test_two_workers_deliver_each_event_exactly_once(store_url: str, store: Store) -> None:
    definition = load(ONE)
    async with (
        runtime_on(store_url, "w1") as one, runtime_on(store_url, "w2") as two,
        working(one), working(two),
    ):
        created = [(await one.create_instance(definition, {"who": f"u{n}"}))[0]
                   for n in range(12)]
        for record in created:
            await listening(store, record.id)
        sent = {}
        for n in range(12):
            sent[f"u{n}"] = event("com.example.ping", n, subject=f"u{n}")
            await (one if n % 2 else two).publish_event(sent[f"u{n}"])
            # The same event again (same source and id): stored once.
            assert not await one.publish_event(sent[f"u{n}"])
        for n, record in enumerate(created):
            done = await ended(store, record.id, within=30)
            assert done.output == [n]
            journal = await store.read_journal(record.id)
            assert len([e for e in journal if e.kind == "event.received"]) == 1


TIMED = workflow("""
do:
  - approval:
      listen:
        to:
          one:
            with: {type: com.example.approved}
      timeout:
        after: PT1S
""", name="timed")


async def test_a_parked_listener_times_out_on_a_durable_timer(store_url: str,
                                                              store: Store) -> None:
    async with runtime_on(store_url, "w1") as runtime, working(runtime, park_after=0.2):
        record, _ = await runtime.create_instance(load(TIMED), {})
        await listening(store, record.id)
        done = await ended(store, record.id, within=15)
        assert done.status == "faulted"
        assert done.error is not None and done.error["type"].endswith("/timeout")
        journal = await store.read_journal(record.id)
        assert entries(journal, "timer", "/do/0/approval#timeout")
        assert await store.get_subscriptions(record.id) == []


PRODUCER = workflow("""
do:
  - announce:
      emit:
        event:
          with:
            type: com.example.ping
            subject: u7
            data: ${ .n }
""", name="producer")


async def test_an_emitted_event_reaches_a_listener_on_the_same_store_once(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "w1") as runtime, working(runtime):
        listener, _ = await runtime.create_instance(load(ONE), {"who": "u7"})
        await listening(store, listener.id)
        producer, _ = await runtime.create_instance(load(PRODUCER), {"n": 7})
        emitted = (await ended(store, producer.id)).output
        assert emitted["source"].startswith("urn:podium:test:producer:")
        assert (await ended(store, listener.id)).output == [7]
        (stored,) = await store.list_events(type="com.example.ping")
        assert stored.id == emitted["id"]
        assert stored.consumers == (listener.id,)


async def test_a_run_in_this_process_waits_in_memory_and_receives(store_url: str,
                                                                   store: Store) -> None:
    async with runtime_on(store_url, "local") as runtime:
        handle = await runtime.start(ONE, {"who": "me"})
        await eventually(lambda: store.get_subscriptions(handle.id))
        await runtime.publish_event(event("com.example.ping", "hello", subject="me"))
        execution = await asyncio.wait_for(handle.result(), 10)
        assert execution.status == "completed", execution.error
        assert execution.output == ["hello"]


@pytest.mark.timeout(90)
async def test_a_listener_killed_before_any_event_still_receives_after_a_restart(
    store_url: str, store: Store, workers: Workers
) -> None:
    async with runtime_on(store_url, "client") as client:
        record, _ = await client.create_instance(load(ONE), {"who": "later"})
        worker = await workers.start(store_url, "--lease", "2")
        await listening(store, record.id)
        worker.kill()
        # Published while no worker runs: it waits in the inbox.
        await client.publish_event(event("com.example.ping", "hi", subject="later"))
        await workers.start(store_url, "--lease", "2")
        done = await ended(store, record.id, within=30)
        assert done.status == "completed", done.error
        assert done.output == ["hi"]


EMITTER = workflow("""
do:
  - announce:
      emit:
        event:
          with:
            type: com.example.announced
            data: ${ .n }
  - after:
      set:
        done: true
""", name="emitter")


async def test_an_event_journaled_before_a_crash_is_published_once_with_its_id(
    store_url: str, store: Store
) -> None:
    """A worker died right after journaling its emitted event (the outbox) and
    before publishing it: the replay publishes that very event, once."""
    async with runtime_on(store_url, "w1") as runtime:
        record, _ = await runtime.create_instance(load(EMITTER), {"n": 5})
        outbox = {"specversion": "1.0", "id": "journaled-1", "source": "urn:podium:test",
                  "type": "com.example.announced", "data": 5}
        await store.update_instance(record.id, started_at=datetime.now(UTC))
        await store.append([JournalEntry(record.id, "/do/0/announce", "event.emitted",
                                         datetime.now(UTC),
                                         {"task": "/do/0/announce", "event": outbox})])
        async with working(runtime):
            done = await ended(store, record.id)
        assert done.status == "completed", done.error
        stored = await store.list_events(type="com.example.announced")
        assert [(e.id, e.source) for e in stored] == [("journaled-1", "urn:podium:test")]
        # Published again (say the first publish had made it after all): kept once.
        assert not await runtime.publish_event(outbox)
        assert len(await store.list_events(type="com.example.announced")) == 1
