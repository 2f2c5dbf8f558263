"""Matching stored events to waiting listeners (ARCHITECTURE "Events and schedules").

Events enter the store's inbox from anywhere (``podium events publish``, NATS,
HTTP, an ``emit``). One process at a time dispatches them: the holder of the
``dispatcher`` lease takes undispatched events in arrival order, matches each
against the subscriptions of its type (an index, never a scan of instances),
and in one transaction puts the matches in the listeners' mailboxes, records
correlation values they bind, marks the events dispatched and makes parked
listeners due. A listener (``tasks/listen``) then journals what it consumes,
so delivery is exactly once per listener even when a dispatcher dies half way
(a mailbox row is unique per listener and event).

Subscriptions of ``schedule.on`` (``schedule:<namespace>/<name>``) start an
instance instead, with the events as its input (dsl.md "Event-driven
scheduling"), under an idempotency key made of the event's inbox key.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from podium import tracecontext
from podium.errors import WorkflowError
from podium.events import matching
from podium.events.matching import Matcher, Received
from podium.store.base import (
    DUE_CHANNEL,
    EVENTS_CHANNEL,
    SCHEDULE_SUBSCRIBER,
    Delivery,
    EventRecord,
    LeaseLost,
    Store,
    StoreError,
    SubscriptionRecord,
)

log = logging.getLogger("podium.events")

LEASE_NAME = "dispatcher"
LEASE_SECONDS = 10.0
# Events per transaction: each batch reads the subscriptions of its types once.
BATCH = 2000
# How often a process that does not dispatch looks for deliveries (another
# process dispatches and cannot signal this one), and how often an idle
# dispatcher looks for events stored by other processes.
POLL_SECONDS = 0.5

# start_scheduled(namespace, name, version, input, key): an `on` schedule fires.
StartScheduled = Callable[[str, str, str | None, Any, str], Awaitable[Any]]


class StoreMailbox:
    """A listener's mailbox in the store."""

    def __init__(self, store: Store, dispatcher: Dispatcher, instance_id: str, position: str,
                 parks: bool, delivered: list[Delivery] | None = None) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.instance_id = instance_id
        self.position = position
        self.parks = parks
        self._delivered = delivered  # read already (by the host, to see it existed)

    async def take(self) -> list[Received]:
        self.dispatcher.signal(self.instance_id, self.position).clear()
        delivered, self._delivered = self._delivered, None
        if delivered is None:
            delivered = await self.store.mailbox(self.instance_id, self.position)
        return [
            Received(d.event_key, d.event, tuple(d.matched.get("filters", ())),
                     tuple(d.matched.get("until", ())), d.matched.get("keys") or {})
            for d in delivered
        ]

    async def wait(self, seconds: float | None) -> None:
        limit = POLL_SECONDS if seconds is None else min(seconds, POLL_SECONDS)
        signal = self.dispatcher.signal(self.instance_id, self.position)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await signal.wait()

    async def consumed(self, received: Sequence[Received]) -> None:
        if received:
            await self.store.consume(self.instance_id, self.position, [r.key for r in received])

    async def close(self, consumed: Sequence[Received] = ()) -> None:
        self.dispatcher.forget(self.instance_id, self.position)
        await self.store.unsubscribe(self.instance_id, self.position, [r.key for r in consumed])


class Dispatcher:
    """The dispatch loop of one process (a worker, or a runtime running listeners)."""

    def __init__(
        self, store: Store, owner: str, matcher: Matcher,
        start_scheduled: StartScheduled | None = None,
        lease_seconds: float = LEASE_SECONDS, poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.owner = owner
        self.matcher = matcher
        self.start_scheduled = start_scheduled
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.arrived = asyncio.Event()  # events were stored by this process
        self.due = asyncio.Event()  # deliveries made parked instances due
        self._signals: dict[tuple[str, str], asyncio.Event] = {}
        self._lease_until = 0.0  # time.monotonic() when the lease runs out
        self._standby_until = 0.0  # another process holds it: not asking before then
        self._task: asyncio.Task[None] | None = None

    # local signals ------------------------------------------------------------------------

    def notify(self) -> None:
        """Events were stored by this process: dispatch now."""
        self.arrived.set()

    def signal(self, instance_id: str, position: str) -> asyncio.Event:
        key = (instance_id, position)
        found = self._signals.get(key)
        if found is None:
            found = self._signals[key] = asyncio.Event()
        return found

    def forget(self, instance_id: str, position: str) -> None:
        self._signals.pop((instance_id, position), None)

    # the loop -----------------------------------------------------------------------------

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            # Its own context: often first asked for by a listening task, whose
            # instance (its log fields, its span) is not the dispatcher's.
            self._task = asyncio.get_running_loop().create_task(
                self._run_forever(), context=contextvars.Context())

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._lease_until > time.monotonic():
            with contextlib.suppress(StoreError):
                await self.store.release_lease(LEASE_NAME, self.owner)
            self._lease_until = 0.0

    def _changed(self, channel: str) -> None:
        """Another process stored events, or made listeners due (Store.watch)."""
        if channel == EVENTS_CHANNEL:
            self.arrived.set()
        elif channel == DUE_CHANNEL:
            self.due.set()
            for signal in self._signals.values():  # a listener waiting in this process
                signal.set()

    async def _run_forever(self) -> None:
        pause = self.poll_seconds
        try:
            # PostgreSQL tells of other processes' events at once; SQLite: polling.
            await self.store.watch(self._changed)
        except StoreError as exc:
            log.warning("cannot watch the store for events (%s): polling", exc)
        while True:
            try:
                busy = await self.step()
                pause = self.poll_seconds
            except StoreError as exc:
                log.warning("dispatching events failed: %s; retrying", exc)
                busy, pause = False, min(pause * 2, 5.0)
            except Exception:
                log.exception("dispatching events failed; retrying")
                busy, pause = False, min(pause * 2, 5.0)
            if busy:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self.arrived.wait()
            self.arrived.clear()

    async def step(self) -> bool:
        """Dispatch one batch if this process holds (or gets) the lease; True when
        a full batch was dispatched (more may be waiting)."""
        now = time.monotonic()
        if self._lease_until - now < self.lease_seconds / 2:
            if now < self._standby_until:
                return False  # another process dispatches: ask again later
            if not await self.store.acquire_lease(LEASE_NAME, self.owner, self.lease_seconds):
                self._lease_until = 0.0
                # Taking over after a holder died costs at most a lease and a quarter.
                self._standby_until = now + self.lease_seconds / 4
                return False
            self._lease_until = now + self.lease_seconds
        return await self.dispatch_batch() == BATCH

    async def dispatch_batch(self) -> int:
        events = await self.store.undispatched(BATCH)
        if not events:
            return 0
        types = sorted({e.type for e in events})
        carried = await self._carried(types, events)
        values: dict[str, set[str]] = {}
        for found in carried.values():
            for source, value in found.items():
                values.setdefault(source, set())
                if value is not None:
                    values[source].add(value)
        subscriptions = await self.store.subscriptions_for(types, values)
        deliveries, states = await self._match(events, subscriptions, carried)
        lease_left = self._lease_until - time.monotonic()
        try:
            await self.store.dispatch(
                [e.key for e in events], deliveries, states,
                deadline=datetime.now(UTC) + timedelta(seconds=max(lease_left, 0.0)),
            )
        except LeaseLost:
            self._lease_until = 0.0
            return 0
        for delivery in deliveries:
            signal = self._signals.get((delivery.instance_id, delivery.position))
            if signal is not None:
                signal.set()
        if deliveries:
            self.due.set()
        return len(events)

    async def _carried(
        self, types: list[str], events: list[EventRecord]
    ) -> dict[str, dict[str, str | None]]:
        """For each event (by key), the values it carries for each ``from`` that
        listeners of its type expect a value of: the store then returns those
        listeners only for the values found (plus every listener expecting none),
        and the matching below does not extract them again."""
        sources = await self.store.correlation_sources(types)
        return {event.key: {source: await matching.carried_value(self.matcher, source,
                                                                 event.event)
                            for source in sources}
                for event in events}

    async def _match(
        self, events: list[EventRecord], subscriptions: list[SubscriptionRecord],
        carried: dict[str, dict[str, str | None]],
    ) -> tuple[list[Delivery], dict[tuple[str, str], dict[str, Any] | None]]:
        deliveries: list[Delivery] = []
        states: dict[tuple[str, str], dict[str, Any] | None] = {}
        bound = {(s.instance_id, s.position): dict((s.state or {}).get("keys") or {})
                 for s in subscriptions}
        pending = {(s.instance_id, s.position): list((s.state or {}).get("pending") or [])
                   for s in subscriptions}
        now = datetime.now(UTC)
        index = matching.CorrelationIndex(subscriptions, lambda s: s.spec)
        for event in events:
            for subscription in await index.candidates(self.matcher, event.event,
                                                       carried.get(event.key)):
                if event.type not in subscription.types \
                        and matching.ANY_TYPE not in subscription.types:
                    continue
                where = (subscription.instance_id, subscription.position)
                received = await self.matcher.match(subscription.spec, bound[where], event.key,
                                                    event.event)
                if received is None:
                    continue
                if matching.bind(subscription.spec, bound[where], received.keys):
                    states[where] = {"keys": bound[where]}
                if subscription.instance_id.startswith(SCHEDULE_SUBSCRIBER):
                    state = await self._scheduled(subscription, event, received, pending[where])
                    if state is not None:
                        states[where] = {"keys": {}, **state}
                    continue
                deliveries.append(Delivery(
                    subscription.instance_id, subscription.position, event.key, event.event,
                    {"filters": list(received.filters), "until": list(received.until),
                     "keys": received.keys},
                    now,
                ))
        return deliveries, states

    async def _scheduled(
        self, subscription: SubscriptionRecord, event: EventRecord, received: Received,
        pending: list[Any],
    ) -> dict[str, Any] | None:
        """An event for a ``schedule.on``: start an instance when the strategy is
        satisfied (``one``/``any``: by this event; ``all``: once every filter has
        one). Returns the subscription's new state when it changed."""
        spec = subscription.spec
        namespace, _, name = subscription.instance_id[len(SCHEDULE_SUBSCRIBER):].partition("/")
        read = spec.get("read", "envelope")
        if spec["strategy"] != "all":
            events = [event.event]
        else:
            taken = {index for index, _ in pending}
            fresh = [i for i in received.filters if i not in taken]
            if not fresh:
                return None
            pending.append([fresh[0], event.event])
            if len(pending) < len(spec["filters"]):
                return {"pending": pending}
            events = [item for _, item in pending]
            pending.clear()
        if self.start_scheduled is None:
            log.warning("schedule.on of %s/%s matched event %s, but this process cannot"
                        " start instances", namespace, name, event.key)
            return None
        try:
            # The instance continues the trace of the event that started it (the
            # CloudEvents distributed tracing extension).
            with tracecontext.incoming(event.event.get("traceparent")):
                await self.start_scheduled(namespace, name, spec.get("version"),
                                           [matching.read(e, read) for e in events],
                                           f"{subscription.instance_id}:event:{event.key}")
        except WorkflowError as exc:
            # A start the definition refuses (its input schema, say) must not stop
            # the dispatch of every other event: dsl.md "Event-driven scheduling",
            # schedule faults are invisible to the workflow; the operator's log
            # has them.
            log.warning("schedule.on of %s/%s matched event %s but no instance started: %s",
                        namespace, name, event.key, exc)
        return {"pending": []} if spec["strategy"] == "all" else None
