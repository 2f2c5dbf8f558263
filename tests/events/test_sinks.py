"""Lifecycle sinks: every lifecycle event reaches an HTTP endpoint (CloudEvents
structured mode) or NATS subjects, in order, secrets redacted; a sink that is
slow, refusing or down never fails or slows a workflow."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any

import nats
import pytest

from podium import Runtime
from podium.config import Settings
from podium.events.sinks import (
    HttpSink,
    LifecycleForwarder,
    NatsSink,
    SinkError,
    check_sink_url,
    sink_from_url,
)
from tests.support.event_collector import EventCollector

NATS = "nats://127.0.0.1:4222"

SMALL = """
document: {dsl: '1.0.3', namespace: test, name: small, version: '1.0.0'}
use: {secrets: [token]}
do:
  - greet: {set: {greeting: 'hello', token: '${ $secrets.token }'}}
  - skipped: {if: '${ false }', set: {never: true}}
  - fail:
      try:
        - boom: {raise: {error: {type: 'https://example.com/boom', status: 400}}}
      catch: {as: problem}
"""

Event = dict[str, Any]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def run_small(*sinks: str, listeners: list[Any] | None = None) -> list[Event]:
    """Run SMALL with ``sinks``; what the in-process listener saw."""
    seen: list[Event] = []
    settings = Settings(lifecycle_sinks=sinks)
    async with Runtime(listeners=[seen.append, *(listeners or [])], settings=settings,
                       secrets={"token": "s3cr3t-value"}) as runtime:
        execution = await runtime.execute(SMALL)
        assert execution.status == "completed", execution.error
    return seen


# HTTP ----------------------------------------------------------------------------------

async def test_http_sink_receives_every_event_in_structured_mode_in_order() -> None:
    with EventCollector() as collector:
        seen = await run_small(collector.url)
        received = collector.wait_for(len(seen))
    assert [event["id"] for event in collector.events()] == [event["id"] for event in seen]
    types = [event["type"] for event in collector.events()]
    assert types[0] == "io.serverlessworkflow.workflow.started.v1"
    assert types[-1] == "io.serverlessworkflow.workflow.status-changed.v1"
    assert "io.serverlessworkflow.workflow.completed.v1" in types
    assert "io.serverlessworkflow.task.faulted.v1" in types
    for item in collector.received:
        assert item.headers["content-type"] == "application/cloudevents+json"
        assert item.headers["user-agent"].startswith("podium/")
        assert not any(name.startswith("ce-") for name in item.headers)  # not binary mode
    first = received[0]
    assert first["specversion"] == "1.0"
    assert first["source"] == seen[0]["source"]
    assert first["time"].endswith("Z")
    assert first["datacontenttype"] == "application/json"
    assert first["data"] == seen[0]["data"]
    assert first["subject"] == seen[0]["subject"]


async def test_no_secret_reaches_a_sink() -> None:
    with EventCollector() as collector:
        seen = await run_small(collector.url)
        collector.wait_for(len(seen))
        bodies = b"".join(item.body for item in collector.received)
    assert b"s3cr3t-value" not in bodies
    completed = next(event for event in collector.events()
                     if event["type"].endswith("task.completed.v1")
                     and event["data"]["task"] == "/do/0/greet")
    assert completed["data"]["output"] == {"greeting": "hello", "token": "***"}


async def test_a_transient_failure_is_retried_and_order_is_kept() -> None:
    with EventCollector(answers=[503, 503, 429]) as collector:
        seen = await run_small(collector.url)
        collector.wait_for(len(seen))
        assert collector.attempts == len(seen) + 3
    assert [event["id"] for event in collector.events()] == [event["id"] for event in seen]


async def test_an_event_refused_for_good_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with EventCollector(answers=[400]) as collector:
        seen = await run_small(collector.url)
        received = collector.wait_for(len(seen) - 1)
    assert [event["id"] for event in received] == [event["id"] for event in seen[1:]]
    assert "refused event io.serverlessworkflow.workflow.started.v1" in caplog.text
    assert "HTTP 400" in caplog.text


async def test_several_sinks_each_receive_everything() -> None:
    with EventCollector() as one, EventCollector() as two:
        seen = await run_small(one.url, two.url)
        assert one.wait_for(len(seen)) == two.wait_for(len(seen))


# a sink that is down or slow -----------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"http://127.0.0.1:{closed_port()}/events", f"nats://127.0.0.1:{closed_port()}",
], ids=["http", "nats"])
async def test_a_sink_that_is_down_does_not_fail_or_slow_the_workflow(
    url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(lifecycle_sinks=(url,))
    began = time.monotonic()
    runtime = Runtime(settings=settings, secrets={"token": "t"})
    execution = await runtime.execute(SMALL)
    ran = time.monotonic() - began
    await runtime.aclose()
    closed = time.monotonic() - began
    assert execution.status == "completed", execution.error
    assert ran < 1.0
    (forwarder,) = runtime.forwarders
    assert closed < ran + forwarder.flush_seconds + 1.0
    assert forwarder.delivered == 0
    assert "is unreachable" in caplog.text
    assert "events were not delivered before closing" in caplog.text


class Gate:
    """A sink that holds every delivery until opened: a slow one."""

    name = "gate"

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.sent: list[Event] = []

    async def send(self, event: Event) -> None:
        await self.open.wait()
        self.sent.append(event)

    async def aclose(self) -> None:
        pass


async def test_a_slow_sink_costs_the_oldest_events_counted_in_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = Gate()
    forwarder = LifecycleForwarder(gate, capacity=3)
    for number in range(8):
        forwarder({"type": "t", "id": str(number)})  # returns at once, the sink held
        await asyncio.sleep(0)
    # The first is in flight; of the seven behind it, the room for three is kept.
    assert forwarder.dropped == 4
    assert "dropping the oldest" in caplog.text
    gate.open.set()
    await forwarder.aclose()
    assert [event["id"] for event in gate.sent] == ["0", "5", "6", "7"]
    assert "4 events were dropped" in caplog.text


# NATS ----------------------------------------------------------------------------------

async def test_nats_sink_publishes_every_event_on_its_type_subject_in_order() -> None:
    prefix = f"test.lifecycle.{uuid.uuid4().hex}"
    client = await nats.connect(NATS, connect_timeout=2)
    received: list[tuple[str, dict[str, str] | None, Event]] = []
    arrived = asyncio.Event()

    async def collect(message: Any) -> None:
        received.append((message.subject, message.headers, json.loads(message.data)))
        arrived.set()

    subscription = await client.subscribe(f"{prefix}.>", cb=collect)
    try:
        seen = await run_small(f"{NATS}/{prefix}")
        async with asyncio.timeout(10):
            while len(received) < len(seen):
                arrived.clear()
                await arrived.wait()
    finally:
        await subscription.unsubscribe()
        await client.close()
    assert [subject for subject, _, _ in received] == [f"{prefix}.{e['type']}" for e in seen]
    assert [event["id"] for _, _, event in received] == [event["id"] for event in seen]
    assert {event["type"].split(".")[2] for _, _, event in received} == {"workflow", "task"}
    for _, headers, event in received:
        assert headers == {"content-type": "application/cloudevents+json"}
        assert event["specversion"] == "1.0"
    assert b"s3cr3t-value" not in json.dumps([event for _, _, event in received]).encode()


async def test_nats_sink_default_prefix() -> None:
    sink = sink_from_url("nats://127.0.0.1:4222")
    assert isinstance(sink, NatsSink)
    assert sink.prefix == "podium.lifecycle"
    client = await nats.connect(NATS, connect_timeout=2)
    subscription = await client.subscribe("podium.lifecycle.com.example.ping")
    try:
        await sink.send({"specversion": "1.0", "id": "1", "source": "urn:test",
                         "type": "com.example.ping", "data": {"n": 1}})
        message = await subscription.next_msg(timeout=5)
    finally:
        await sink.aclose()
        await client.close()
    assert json.loads(message.data)["data"] == {"n": 1}


# URLs ----------------------------------------------------------------------------------

def test_sink_urls() -> None:
    assert isinstance(sink_from_url("https://collector.example.com/in"), HttpSink)
    assert check_sink_url("nats://user:pw@host:4222/a.b") == "nats://user:pw@host:4222/a.b"
    for bad, says in [
        ("ftp://host/x", "is not a lifecycle sink"),
        ("collector.example.com", "is not a lifecycle sink"),
        ("http://host:port/x", "is not a URL"),
        ("nats://host:4222/a.*", "subject prefix"),
    ]:
        with pytest.raises(ValueError, match=says):
            check_sink_url(bad)


def test_a_password_in_a_sink_url_is_not_shown() -> None:
    sink = sink_from_url("nats://user:hunter2@127.0.0.1:4222")
    assert "hunter2" not in sink.name
    with pytest.raises(ValueError) as refused:
        check_sink_url("gopher://user:hunter2@host/x")
    assert "hunter2" not in str(refused.value)


async def test_an_invalid_event_is_a_permanent_error() -> None:
    sink = HttpSink("http://127.0.0.1:9/events")
    try:
        with pytest.raises(SinkError) as refused:
            await sink.send({"type": "t"})  # no id, no source
    finally:
        await sink.aclose()
    assert not refused.value.transient


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env({"PODIUM_LIFECYCLE_SINK": "http://a/x, nats://b:4222,"})
    assert settings.lifecycle_sinks == ("http://a/x", "nats://b:4222")
    assert Settings.from_env({}).lifecycle_sinks == ()
    with pytest.raises(ValueError, match="PODIUM_LIFECYCLE_SINK: 'ftp://a' is not a lifecycle"):
        Settings.from_env({"PODIUM_LIFECYCLE_SINK": "ftp://a"})

