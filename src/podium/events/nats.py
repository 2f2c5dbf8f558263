"""NATS JetStream as the event bus between processes and hosts.

In: a durable pull consumer on a stream (created when missing) takes CloudEvents
from the configured subject (structured JSON in the body, or binary mode with
``ce-`` headers), stores them through ``ingest`` and acks each message only once
its event is in the store: a worker that dies in between leaves the message to
be redelivered, and the store keeps it once (source+id). A message that holds no
valid CloudEvent is terminated (never redelivered) with a warning naming the
attribute.

Out: ``publish`` sends an event to ``<prefix>.<type>`` with the header
``Nats-Msg-Id: <source> <id>``, so that JetStream drops a re-publish of the same
event within its duplicate window (an outbox delivered again after a crash).

NATS may go away and come back: the client reconnects for ever, and the
consumer loop backs off and retries whatever failed (stream, consumer, fetch),
so it resumes where its durable consumer left off. ``nats-py`` is the optional
``nats`` extra, imported only when a transport connects.

    async with NatsTransport("nats://127.0.0.1:4222") as transport:
        await transport.start(store, notify)
        ...
        await transport.publish(event)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from podium.events.bus import TransportError
from podium.events.cloudevents import STRUCTURED, InvalidEvent, parse_http, validate
from podium.events.ingest import ingest
from podium.store.base import Store

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

log = logging.getLogger("podium.events.nats")

ORIGIN = "nats"
SUBJECT = "podium.events.>"
STREAM = "PODIUM_EVENTS"
DURABLE = "podium"
PUBLISH_PREFIX = "podium.events"

# What a subject token cannot hold: separators, wildcards, whitespace, controls.
_NOT_TOKEN = re.compile(r"[\s*>\x00-\x1f\x7f]")


def subject_for(prefix: str, event_type: str) -> str:
    """``<prefix>.<type>``: the type's dots make subject tokens (subscribers may
    filter with wildcards); a character no subject may hold becomes ``_``, and so
    does an empty token."""
    tokens = (_NOT_TOKEN.sub("_", token) or "_" for token in event_type.split("."))
    return ".".join((prefix, *tokens))


def _header(text: str) -> str:
    # A header value is one line: CR and LF (and other controls) percent-encoded.
    return quote(text, safe="".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%"))


def _said(exc: BaseException) -> str:
    """What an error says (nats-py raises some that say nothing)."""
    return str(exc) or type(exc).__name__


def _shown(url: str) -> str:
    """``url`` without credentials, for messages and logs."""
    servers = []
    for server in url.split(","):
        parts = urlsplit(server.strip())
        host = parts.hostname or ""
        servers.append(f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}")
    return ",".join(servers)


class NatsTransport:
    """CloudEvents in from, and out to, NATS JetStream (see the module docstring)."""

    def __init__(
        self,
        url: str,
        subject: str = SUBJECT,
        stream: str = STREAM,
        durable: str = DURABLE,
        *,
        publish_prefix: str = PUBLISH_PREFIX,
        batch: int = 100,
        connect_timeout: float = 5.0,
        publish_timeout: float = 5.0,
        reconnect_wait: float = 0.5,
        max_backoff: float = 5.0,
    ) -> None:
        self.url = url
        self.subject = subject
        self.stream = stream
        self.durable = durable
        self.publish_prefix = publish_prefix
        self.batch = batch
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.reconnect_wait = reconnect_wait
        self.max_backoff = max_backoff
        self._client: Client | None = None
        self._consumer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> NatsTransport:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect (``TransportError`` when no server answers now); from then on
        the client reconnects by itself, for ever."""
        try:
            import nats
        except ImportError:  # pragma: no cover - the extra is part of `test`
            raise TransportError(
                "NATS needs the nats extra: pip install 'podium[nats]'"
            ) from None

        async def disconnected() -> None:
            if self._client is None:  # closing
                return
            log.warning("NATS %s: disconnected, reconnecting", _shown(self.url))

        async def reconnected() -> None:
            log.info("NATS %s: reconnected", _shown(self.url))

        async def error(exc: Exception) -> None:
            log.debug("NATS %s: %s", _shown(self.url), exc)

        try:
            self._client = await nats.connect(
                [server.strip() for server in self.url.split(",")],
                name="podium",
                connect_timeout=self.connect_timeout,
                reconnect_time_wait=self.reconnect_wait,
                # Fail now when no server answers at start (a wrong URL is the
                # operator's to fix); once connected, reconnect for ever (below).
                max_reconnect_attempts=1,
                allow_reconnect=True,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except Exception as exc:  # nats-py raises its own errors and OSErrors alike
            raise TransportError(
                f"cannot connect to NATS at {_shown(self.url)}: {_said(exc)}"
            ) from exc
        # nats-py reads this option at each reconnection: an outage of any length
        # is waited out, while the consumer loop backs off and retries.
        self._client.options["max_reconnect_attempts"] = -1

    def _jetstream(self) -> JetStreamContext:
        if self._client is None:
            raise TransportError("the NATS transport is not connected: use `async with`")
        return self._client.jetstream()

    async def close(self) -> None:
        """Stop consuming and close the connection (what was fetched and not yet
        stored is redelivered to the durable consumer later)."""
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.close()

    # in -----------------------------------------------------------------------------------

    async def ensure_stream(self) -> None:
        """Create the stream with the configured subject when it is missing; one
        that exists must already carry that subject (``TransportError`` if not)."""
        from nats.js.errors import NotFoundError

        jetstream = self._jetstream()
        try:
            info = await jetstream.stream_info(self.stream)
        except NotFoundError:
            await jetstream.add_stream(name=self.stream, subjects=[self.subject])
            log.info("NATS: created the JetStream stream %s (%s)", self.stream, self.subject)
            return
        subjects = list(info.config.subjects or [])
        if self.subject not in subjects:
            raise TransportError(
                f"the JetStream stream {self.stream} exists with the subjects "
                f"{', '.join(subjects) or '(none)'}, not {self.subject}: name another "
                "stream or subject"
            )

    async def start(self, store: Store, notify: Callable[[], None] | None = None) -> None:
        """Make sure the stream exists, then consume it in the background until
        ``close``: every event goes through ``ingest(store, ..., "nats", notify)``."""
        await self.ensure_stream()
        subscription = await self._subscribe()
        self._consumer = asyncio.create_task(
            self._consume(store, notify, subscription), name=f"nats-consumer-{self.durable}"
        )

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        from nats.js.api import AckPolicy, ConsumerConfig

        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_deliver=-1, ack_wait=30.0)
        return await self._jetstream().pull_subscribe(
            self.subject, durable=self.durable, stream=self.stream, config=config
        )

    async def _consume(
        self, store: Store, notify: Callable[[], None] | None,
        subscription: JetStreamContext.PullSubscription | None,
    ) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        backoff = 0.0
        while True:
            try:
                if subscription is None:
                    await self.ensure_stream()
                    subscription = await self._subscribe()
                    log.info("NATS: consuming %s again", self.subject)
                messages = await subscription.fetch(self.batch, timeout=1.0)
            except NatsTimeout:
                backoff = 0.0
                continue  # nothing to fetch (or the server is away: the next try says)
            except Exception as exc:
                # NATS is away or lost the stream or consumer: back off, then build
                # them again (a subscription that survived the outage is dropped).
                backoff = min(self.max_backoff, max(0.1, backoff * 2))
                log.warning("NATS consumer %s: %s; retrying in %.1fs", self.durable,
                            _said(exc), backoff)
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
                subscription = None
                await asyncio.sleep(backoff)
                continue
            try:
                await self._store(store, notify, messages)
                backoff = 0.0
            except Exception as exc:
                # The store could not take them: unacked, they come back.
                backoff = min(self.max_backoff, max(0.1, backoff * 2))
                log.warning("NATS consumer %s: could not store %d events (%s); they will "
                            "be redelivered", self.durable, len(messages), exc)
                for message in messages:
                    with contextlib.suppress(Exception):
                        await message.nak(delay=backoff)
                await asyncio.sleep(backoff)

    async def _store(
        self, store: Store, notify: Callable[[], None] | None, messages: list[Msg]
    ) -> None:
        """Ingest the events of ``messages``; ack them only once stored."""
        valid: list[tuple[Msg, list[dict[str, Any]]]] = []
        for message in messages:
            try:
                valid.append((message, parse_http(message.headers or {}, message.data)))
            except InvalidEvent as exc:
                log.warning("NATS message on %s is not a valid CloudEvent: %s; terminated "
                            "(it will not be redelivered)", message.subject, exc)
                await message.term()
        if not valid:
            return
        await ingest(store, [event for _, events in valid for event in events], ORIGIN, notify)
        for message, _ in valid:
            await message.ack()

    # out ----------------------------------------------------------------------------------

    async def publish(self, event: dict[str, Any]) -> bool:
        """Publish a CloudEvent (structured JSON) to ``<prefix>.<type>`` and wait for
        JetStream to store it: True, or False when JetStream already had this
        source+id (``Nats-Msg-Id``) within its duplicate window. Tries again for
        up to ``publish_timeout`` seconds (NATS restarting); ``TransportError``
        when it was not stored by then (the caller keeps it and tries later);
        ``InvalidEvent`` for an event that is not valid."""
        valid = validate(event)
        body = json.dumps(valid, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Nats-Msg-Id": _header(f"{valid['source']} {valid['id']}"),
            "Content-Type": STRUCTURED,
        }
        subject = subject_for(self.publish_prefix, valid["type"])
        jetstream = self._jetstream()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        delay = 0.1
        while True:
            # Tries again within publish_timeout (NATS restarting, JetStream not
            # ready yet): the Nats-Msg-Id makes a second try of a publish that
            # was stored after all a duplicate, not a second copy.
            left = deadline - loop.time()
            try:
                ack = await jetstream.publish(
                    subject, body, timeout=max(0.1, min(2.0, left)), headers=headers
                )
                return not ack.duplicate
            except Exception as exc:
                if loop.time() + delay >= deadline:
                    raise TransportError(
                        f"could not publish event {valid['source']} {valid['id']} to NATS "
                        f"{subject}: {_said(exc)}"
                    ) from exc
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)
