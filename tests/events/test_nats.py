"""The NATS JetStream transport against a real server: the machine's, or one of
the test's own for an outage. Every test has its own stream, subject and durable
consumer, so parallel test processes never meet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from podium.dsl import load
from podium.events.ingest import ingest
from podium.events.nats import NatsTransport, TransportError, subject_for
from podium.runtime import Runtime
from podium.store import Store
from podium.worker import Worker
from tests.support.nats_server import NatsProcess


@dataclass(frozen=True)
class Names:
    token: str

    @property
    def subject(self) -> str:
        return f"podium.test.{self.token}.>"

    @property
    def prefix(self) -> str:
        return f"podium.test.{self.token}"

    @property
    def stream(self) -> str:
        return f"PODIUM_TEST_{self.token.upper()}"

    def transport(self, url: str, **options: Any) -> NatsTransport:
        return NatsTransport(url, self.subject, self.stream, f"podium-{self.token}",
                             publish_prefix=self.prefix, **options)


@pytest.fixture
async def names(nats_url: str) -> AsyncIterator[Names]:
    found = Names(uuid.uuid4().hex[:12])
    yield found
    client = await nats.connect(nats_url)
    with contextlib.suppress(Exception):  # never created, or on the test's own server
        await client.jetstream().delete_stream(found.stream)
    await client.close()


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[Client]:
    connected = await nats.connect(nats_url)
    yield connected
    await connected.close()


def event(number: int, **changes: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"n{number}", "source": "/nats-test",
            "type": "com.example.tick", "data": {"n": number}, **changes}


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within}s; last value {value!r}")
        await asyncio.sleep(0.05)


async def stored_ids(store: Store) -> list[str]:
    return sorted(record.id for record in await store.list_events(limit=1000))


async def settled(client: Client, names: Names) -> bool:
    """Every message of the stream was acked or terminated by the durable consumer."""
    info = await client.jetstream().consumer_info(names.stream, f"podium-{names.token}")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_ingress_stores_then_acks(store: Store, names: Names, client: Client,
                                        nats_url: str) -> None:
    notified: list[bool] = []
    async with names.transport(nats_url) as transport:
        await transport.start(store, lambda: notified.append(True))
        jetstream = client.jetstream()
        await jetstream.publish(f"{names.prefix}.tick", json.dumps(event(1)).encode())
        # Binary mode: attributes in ce- headers, the data in the body.
        await jetstream.publish(
            f"{names.prefix}.tick", b'{"n": 2}',
            headers={"ce-specversion": "1.0", "ce-id": "n2", "ce-source": "/nats-test",
                     "ce-type": "com.example.tick", "content-type": "application/json"},
        )

        async def both() -> bool:
            return await stored_ids(store) == ["n1", "n2"]

        await eventually(both)
        await eventually(lambda: settled(client, names))
    records = {record.id: record for record in await store.list_events()}
    assert records["n2"].event == event(2, datacontenttype="application/json")
    assert {record.origin for record in records.values()} == {"nats"}
    assert notified


async def test_the_stream_is_created_once_and_kept(store: Store, names: Names,
                                                   client: Client, nats_url: str) -> None:
    async with names.transport(nats_url) as transport:
        await transport.ensure_stream()
        await transport.ensure_stream()  # exists with the subject: fine
    info = await client.jetstream().stream_info(names.stream)
    assert info.config.subjects == [names.subject]
    other = NatsTransport(nats_url, "podium.other.>", names.stream)
    async with other:
        with pytest.raises(TransportError, match=f"exists with the subjects {names.subject}"):
            await other.ensure_stream()


async def test_an_invalid_message_is_terminated(store: Store, names: Names, client: Client,
                                                nats_url: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "podium.events.nats")
    async with names.transport(nats_url) as transport:
        await transport.start(store)
        jetstream = client.jetstream()
        bad = event(1)
        del bad["source"]
        await jetstream.publish(f"{names.prefix}.tick", json.dumps(bad).encode())
        await jetstream.publish(f"{names.prefix}.tick", b"not json")
        await jetstream.publish(f"{names.prefix}.tick", json.dumps(event(3)).encode())
        await eventually(lambda: stored_ids(store))
        await eventually(lambda: settled(client, names))
        await asyncio.sleep(0.5)  # a redelivery would show now
        info = await jetstream.consumer_info(names.stream, f"podium-{names.token}")
    assert info.num_redelivered == 0
    assert await stored_ids(store) == ["n3"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not a valid CloudEvent: 'source' is required; terminated" in w
               for w in warnings), warnings
    assert any("the event is not valid JSON" in w for w in warnings), warnings


async def test_a_redelivered_event_is_stored_once(store: Store, names: Names,
                                                  client: Client, nats_url: str) -> None:
    # The same source+id twice in the stream (JetStream deduplicates only with a
    # Nats-Msg-Id), as after a publisher's retry or an ack that never arrived.
    jetstream = client.jetstream()
    async with names.transport(nats_url) as transport:
        await transport.ensure_stream()
        for data in ({"n": 1}, {"n": "again"}):
            body = json.dumps(event(1, data=data)).encode()
            await jetstream.publish(f"{names.prefix}.tick", body)
        await transport.start(store)
        await eventually(lambda: settled(client, names))
        await jetstream.publish(f"{names.prefix}.tick", json.dumps(event(1)).encode())
        await eventually(lambda: settled(client, names))
    [record] = await store.list_events()
    assert (record.id, record.event["data"]) == ("n1", {"n": 1})


async def test_publish_deduplicates_with_nats_msg_id(store: Store, names: Names,
                                                     client: Client, nats_url: str) -> None:
    async with names.transport(nats_url) as transport:
        await transport.ensure_stream()
        assert await transport.publish(event(1, type="com.example.bid")) is True
        assert await transport.publish(event(1, type="com.example.bid")) is False
        assert await transport.publish(event(2, type="com.example.bid")) is True
        info = await client.jetstream().stream_info(names.stream)
        assert info.state.messages == 2
        message = await client.jetstream().get_last_msg(names.stream,
                                                        f"{names.prefix}.com.example.bid")
        assert message.headers is not None
        assert message.headers["Nats-Msg-Id"] == "/nats-test n2"
        assert json.loads(message.data or b"") == event(2, type="com.example.bid")
        await transport.start(store)
        await eventually(lambda: settled(client, names))
    assert await stored_ids(store) == ["n1", "n2"]


def test_subjects_for_event_types() -> None:
    assert subject_for("p", "com.example.bid") == "p.com.example.bid"
    assert subject_for("p", "a b*c>.") == "p.a_b_c_._"


async def test_publish_of_an_invalid_event_or_without_connection(names: Names,
                                                                 nats_url: str) -> None:
    transport = names.transport(nats_url)
    with pytest.raises(TransportError, match="not connected"):
        await transport.publish(event(1))
    with pytest.raises(TransportError, match=r"cannot connect to NATS at nats://127\.0\.0\.1:1\b"):
        await NatsTransport("nats://127.0.0.1:1", connect_timeout=1).connect()


@pytest.mark.timeout(120)
async def test_the_consumer_survives_an_outage(store: Store, names: Names,
                                               tmp_path: Path) -> None:
    with NatsProcess(tmp_path / "nats") as server:
        async with names.transport(server.url, publish_timeout=30) as transport:
            await transport.start(store)
            assert await transport.publish(event(1))
            await eventually(lambda: stored_ids(store))

            server.stop()
            # While NATS is away the store still takes events...
            await ingest(store, [event(2)], "cli")
            # ...a publish that cannot wait says so...
            transport.publish_timeout = 1
            with pytest.raises(TransportError, match="could not publish event /nats-test n3"):
                await transport.publish(event(3))
            # ...and one that can waits for the server to come back.
            transport.publish_timeout = 30
            during = asyncio.create_task(transport.publish(event(3)))
            await asyncio.sleep(1.5)
            assert not during.done()
            await asyncio.to_thread(server.start)

            # True, or False when the publish that gave up had reached the server
            # after all: its Nats-Msg-Id made the second one a duplicate.
            await asyncio.wait_for(during, 30)
            assert await transport.publish(event(4))

            async def all_four() -> bool:
                return await stored_ids(store) == ["n1", "n2", "n3", "n4"]

            await eventually(all_four, within=40)
            client = await nats.connect(server.url)
            try:
                info = await client.jetstream().stream_info(names.stream)
            finally:
                await client.close()
            assert info.state.messages == 3  # n1, n3 once, n4 (n2 went to the store)


LISTENER = """
document: {dsl: '1.0.3', namespace: test, name: nats-listener, version: '1.0.0'}
do:
  - tick:
      listen:
        to:
          one:
            with: {type: com.example.tick}
  - announce:
      emit:
        event:
          with:
            type: com.example.tock
            data: ${ .[0] }
"""


async def test_an_event_from_nats_wakes_a_listener_whose_emit_goes_back_to_nats_once(
    store: Store, names: Names, client: Client, nats_url: str
) -> None:
    runtime = Runtime(store=store, worker_id="nats-e2e")
    stop = asyncio.Event()
    working = asyncio.ensure_future(Worker(runtime, poll_seconds=0.05).run(stop))
    jetstream = client.jetstream()
    try:
        async with names.transport(nats_url) as transport:
            await transport.start(store, runtime.dispatcher.notify)
            runtime.event_transports.append(transport)
            record, _ = await runtime.create_instance(load(LISTENER), {})

            async def subscribed() -> bool:
                return bool(await store.get_subscriptions(record.id))

            await eventually(subscribed)
            await jetstream.publish(f"{names.prefix}.tick", json.dumps(event(7)).encode())

            async def completed() -> Any:
                found = await store.get_instance(record.id)
                return found if found is not None and found.status == "completed" else None

            done = await eventually(completed)
            emitted = done.output
            assert emitted["type"] == "com.example.tock" and emitted["data"] == {"n": 7}
            # The emitted event went to JetStream (and, through the consumer, to the
            # inbox again: stored once, by source and id).
            subscription = await jetstream.pull_subscribe(f"{names.prefix}.com.example.tock",
                                                          stream=names.stream)
            (message,) = await subscription.fetch(1, timeout=5)
            assert json.loads(message.data)["id"] == emitted["id"]
            assert message.headers is not None
            assert message.headers["Nats-Msg-Id"] == f"{emitted['source']} {emitted['id']}"
            tocks = [r for r in await store.list_events() if r.type == "com.example.tock"]
            assert [r.id for r in tocks] == [emitted["id"]]
    finally:
        stop.set()
        await asyncio.wait_for(working, 10)
        runtime.event_transports.clear()
        await runtime.aclose()
