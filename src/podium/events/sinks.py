"""Lifecycle event sinks: where the operator sends workflow and task lifecycle
CloudEvents (``--lifecycle-sink URL``, ``PODIUM_LIFECYCLE_SINK``).

    sink = sink_from_url("https://collector.example.com/events")
    forwarder = LifecycleForwarder(sink)   # a lifecycle listener
    ...
    await forwarder.aclose()               # delivers what is queued, briefly

Kinds of sink, by URL scheme:

- ``http://``, ``https://``: each event is POSTed in the CloudEvents HTTP binding's
  structured mode (``Content-Type: application/cloudevents+json``), one request
  per event.
- ``nats://host:port[/prefix]``: each event is published (core NATS, not
  JetStream) on subject ``<prefix>.<event type>`` (default prefix
  ``podium.lifecycle``), the event in structured JSON as the payload; the client
  reconnects by itself. ``nats-py`` is the optional ``nats`` extra.

A sink never holds a workflow back: the forwarder queues each event and returns
at once; a background task delivers them in order. A sink that is slow or down
costs events, never progress: the queue is bounded (the oldest events are
dropped, with a warning that counts them), transient failures (a refused
connection, a timeout, HTTP 5xx/408/429) are retried with exponential backoff, an
event the sink refuses for good (another HTTP error) is dropped with a warning.
Closing waits a moment (``flush_seconds``) for the queue to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent as _CloudEvent

from podium._version import __version__
from podium.config import BAD_SUBJECT, check_sink_url, display_url, nats_prefix

if TYPE_CHECKING:
    from nats.aio.client import Client

log = logging.getLogger("podium.events.sinks")

CloudEvent = dict[str, Any]

STRUCTURED = "application/cloudevents+json"

# Events a forwarder holds for a sink that is behind; then it drops the oldest.
QUEUE_CAPACITY = 10_000
# How long closing waits for queued events to be delivered.
FLUSH_SECONDS = 2.0
# Retries of a transient failure: the first after this, doubling up to the cap.
BACKOFF_SECONDS = (0.1, 5.0)
HTTP_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
CONNECT_SECONDS = 3.0



class SinkError(Exception):
    """An event was not delivered. ``transient``: trying again later may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Sink(Protocol):
    """Somewhere lifecycle events go, one at a time."""

    @property
    def name(self) -> str:
        """The sink's URL without credentials, for logs."""

    async def send(self, event: CloudEvent) -> None:
        """Deliver one event (structured JSON form); raise ``SinkError`` if not."""

    async def aclose(self) -> None: ...


def sink_from_url(url: str) -> Sink:
    """The sink ``url`` names (``http(s)://...`` or ``nats://host:port[/prefix]``)."""
    check_sink_url(url)
    parts = urlsplit(url)
    if parts.scheme == "nats":
        return NatsSink(url)
    return HttpSink(url)


def structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """The event in the CloudEvents HTTP binding's structured mode: headers and
    body, written by the ``cloudevents`` package (JSON format)."""
    attributes = {key: value for key, value in event.items() if key != "data"}
    if isinstance(attributes.get("time"), str):
        attributes["time"] = datetime.fromisoformat(attributes["time"].replace("Z", "+00:00"))
    try:
        message = to_structured_event(_CloudEvent(attributes, event.get("data")))
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        raise SinkError(f"not a valid CloudEvent: {exc}", transient=False) from None
    return dict(message.headers), message.body


class HttpSink:
    """POSTs each event, structured mode, to one URL."""

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.name = display_url(url)
        # Its own client: the operator's endpoint is not a workflow call, so the
        # egress policy and the workflows' limits do not apply to it.
        self._client = client or httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, headers={"user-agent": f"podium/{__version__}"}
        )

    async def send(self, event: CloudEvent) -> None:
        headers, body = structured(event)
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}", transient=True) from None
        status = response.status_code
        if status < 300:
            return
        raise SinkError(
            f"HTTP {status} {response.reason_phrase}",
            transient=status >= 500 or status in (408, 425, 429),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


class NatsSink:
    """Publishes each event on ``<prefix>.<event type>`` (core NATS)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.name = display_url(url)
        self.prefix = nats_prefix(parts.path)
        self._server = urlunsplit(("nats", parts.netloc, "", "", ""))
        self._client: Client | None = None

    async def _connected(self) -> Client:
        if self._client is not None and not self._client.is_closed:
            return self._client
        import nats

        # Once connected, the client reconnects for ever on its own, holding what
        # is published meanwhile in its pending buffer. The first connection
        # would retry for ever too: its first failure is reported instead, and
        # the forwarder tries again later.
        failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

        async def on_error(exc: Exception) -> None:
            if not failed.done():
                failed.set_result(exc)
            log.debug("lifecycle sink %s: %s", self.name, exc)

        connecting = asyncio.ensure_future(nats.connect(
            self._server, connect_timeout=2, max_reconnect_attempts=-1,
            reconnect_time_wait=1, allow_reconnect=True, name="podium-lifecycle",
            error_cb=on_error,
        ))
        await asyncio.wait((connecting, failed), timeout=CONNECT_SECONDS,
                           return_when=asyncio.FIRST_COMPLETED)
        if not connecting.done():
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            cause = failed.result() if failed.done() else f"no answer in {CONNECT_SECONDS:g}s"
            raise SinkError(f"cannot connect: {cause}", transient=True)
        failed.cancel()
        try:
            self._client = connecting.result()
        except Exception as exc:
            raise SinkError(f"cannot connect: {exc or type(exc).__name__}",
                            transient=True) from None
        return self._client

    async def send(self, event: CloudEvent) -> None:
        headers, body = structured(event)
        subject = f"{self.prefix}.{event['type']}"
        if BAD_SUBJECT.search(subject):
            raise SinkError(f"{subject!r} is not a subject", transient=False)
        client = await self._connected()
        from nats.errors import Error as NatsError

        try:
            await client.publish(subject, body, headers=headers)
        except NatsError as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}", transient=True) from None

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            from nats.errors import Error as NatsError

            with contextlib.suppress(NatsError, OSError, TimeoutError):
                # Sends what the client still buffers, then closes.
                await asyncio.wait_for(client.drain(), FLUSH_SECONDS)
            with contextlib.suppress(NatsError, OSError):
                await client.close()


class LifecycleForwarder:
    """A lifecycle listener that hands events to a sink in the background.

    Calling it (the engine does, for every event) only queues the event; the
    delivery task starts with the first one, in the running event loop."""

    def __init__(
        self,
        sink: Sink,
        *,
        capacity: int = QUEUE_CAPACITY,
        flush_seconds: float = FLUSH_SECONDS,
        backoff: tuple[float, float] = BACKOFF_SECONDS,
    ) -> None:
        self.sink = sink
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self.backoff = backoff
        self.delivered = 0
        self.dropped = 0  # in all
        self._queue: deque[CloudEvent] = deque()
        self._in_flight = False
        self._unreported = 0  # dropped since the last warning that counted them
        self._down = False
        self._closed = False
        self._ready: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Events not delivered yet."""
        return len(self._queue) + self._in_flight

    def __call__(self, event: CloudEvent) -> None:
        if self._closed:
            return
        if len(self._queue) >= self.capacity:
            self._queue.popleft()
            self.dropped += 1
            self._unreported += 1
            if self._unreported == 1:
                log.warning("lifecycle sink %s is behind: %d events queued, dropping the "
                            "oldest", self.sink.name, self.capacity)
        self._queue.append(event)
        if self._task is None:
            self._ready, self._idle = asyncio.Event(), asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._deliver(), name=f"lifecycle sink {self.sink.name}"
            )
        assert self._ready is not None and self._idle is not None
        self._idle.clear()
        self._ready.set()

    async def _deliver(self) -> None:
        assert self._ready is not None and self._idle is not None
        while True:
            if not self._queue:
                self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            event = self._queue.popleft()
            self._in_flight = True
            try:
                await self._send(event)
            finally:
                self._in_flight = False

    async def _send(self, event: CloudEvent) -> None:
        """Deliver one event, retrying while the failure is transient."""
        delay = self.backoff[0]
        while True:
            try:
                await self.sink.send(event)
            except SinkError as exc:
                if not exc.transient:
                    log.warning("lifecycle sink %s refused event %s (%s): %s; dropped",
                                self.sink.name, event.get("type"), event.get("id"), exc)
                    return
                if not self._down:
                    self._down = True
                    log.warning("lifecycle sink %s is unreachable (%s); retrying, events "
                                "are queued meanwhile", self.sink.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            except Exception:
                # A bug (the sink's or a library's) must not end the delivery task.
                log.exception("lifecycle sink %s failed on event %s; dropped",
                              self.sink.name, event.get("type"))
                return
            self.delivered += 1
            if self._down:
                self._down = False
                log.info("lifecycle sink %s is reachable again", self.sink.name)
            self._report_dropped()
            return

    def _report_dropped(self) -> None:
        if self._unreported:
            log.warning("lifecycle sink %s: %d events were dropped (the sink was behind "
                        "by more than %d)", self.sink.name, self._unreported, self.capacity)
            self._unreported = 0

    async def aclose(self) -> None:
        """Stop taking events, give the queue ``flush_seconds`` to drain, close the
        sink. What is left is counted in a warning."""
        self._closed = True
        task, self._task = self._task, None
        left = 0
        if task is not None:
            assert self._idle is not None
            if self.pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), self.flush_seconds)
            left = self.pending
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if left:
            log.warning("lifecycle sink %s: %d events were not delivered before closing",
                        self.sink.name, left)
        self._report_dropped()
        await self.sink.aclose()
