"""Live updates as server-sent events (sse-starlette): the instances of a filter
as they change, and one instance's history as it grows. Both poll the store, so
they see the work of a worker in this process or anywhere else (``--no-worker``,
other hosts) alike; a comment every ``ping`` seconds keeps proxies from closing
a quiet stream.

A client that reconnects sends the last id it saw (``Last-Event-ID``): the
history stream's ids are journal seqs, the list stream's the latest update time
it has sent (microseconds since 1970). Delivery is at least once: an instance
may come again."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from podium.server.filters import MAX_INTEGER, InstanceFilter
from podium.server.operations import Operations, shown, shown_entry
from podium.server.problems import ApiProblem
from podium.store import ENDED, InstanceQuery, InstanceRecord, Store, StoreError

log = logging.getLogger("podium.server")

PAGE = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"description": "server-sent events", "content": {"text/event-stream": {}}}}


@dataclass(frozen=True)
class StreamSettings:
    """How often streams poll the store and ping the client; how far back the
    list stream looks at each poll: a change committed that long after it was
    stamped (group commit, concurrent transactions) is still seen, and what was
    sent already is skipped. ``stopping`` ends them all (the server is shutting
    down and waits for open responses)."""

    poll: float = 0.5
    ping: float = 15.0
    lookback: timedelta = timedelta(seconds=2)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def _data(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def _pause(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``; True when the server is stopping meanwhile."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _changed_since(store: Store, query: InstanceQuery,
                         floor: datetime) -> list[InstanceRecord]:
    """Every instance of ``query`` updated after ``floor``, oldest update first."""
    found: list[InstanceRecord] = []
    page = replace(query, updated_after=floor, limit=PAGE, after=None)
    while True:
        batch = await store.list_instances(page)
        found += batch
        if len(batch) < PAGE:
            return sorted(found, key=lambda record: (record.updated_at, record.id))
        page = replace(page, after=(batch[-1].created_at, batch[-1].id))


async def instance_changes(store: Store, query: InstanceQuery, since: datetime,
                           settings: StreamSettings) -> AsyncIterator[ServerSentEvent]:
    """``instance`` events: each instance of ``query`` as it is after a change."""
    high = since
    sent: dict[tuple[str, datetime], None] = {}
    while True:
        floor = high - settings.lookback
        try:
            changed = await _changed_since(store, query, floor)
        except StoreError as exc:  # the client keeps its stream; the next poll retries
            log.warning("instance stream: %s", " ".join(str(exc).split()))
            changed = []
        for record in changed:
            version = (record.id, record.updated_at)
            if version in sent:
                continue
            sent[version] = None
            high = max(high, record.updated_at)
            yield ServerSentEvent(_data(shown(record)), event="instance",
                                  id=str((high - _EPOCH) // _MICROSECOND))
        floor = high - settings.lookback
        sent = {version: None for version in sent if version[1] > floor}
        if await _pause(settings.stopping, settings.poll):
            return


async def history_events(store: Store, instance_id: str, after: int,
                         settings: StreamSettings) -> AsyncIterator[ServerSentEvent]:
    """``entry`` events for the history lines after seq ``after``, ``instance``
    events when the instance changes, and ``end`` once it has ended."""
    updated: datetime | None = None
    while True:
        try:
            # The record first: if it has ended, the history read next is complete.
            record = await store.get_instance(instance_id)
            if record is None:  # purged meanwhile
                yield ServerSentEvent(_data({"id": instance_id, "status": None}), event="end")
                return
            while True:
                entries = await store.read_journal(instance_id, after_seq=after, limit=PAGE)
                for entry in entries:
                    after = entry.seq or after
                    yield ServerSentEvent(_data(shown_entry(entry)), event="entry",
                                          id=str(entry.seq))
                if len(entries) < PAGE:
                    break
        except StoreError as exc:
            log.warning("history stream of %s: %s", instance_id, " ".join(str(exc).split()))
        else:
            if record.updated_at != updated:
                updated = record.updated_at
                yield ServerSentEvent(_data(shown(record)), event="instance")
            if record.status in ENDED:
                yield ServerSentEvent(_data({"id": instance_id, "status": record.status}),
                                      event="end")
                return
        if await _pause(settings.stopping, settings.poll):
            return


def _resumed_at(last_event_id: str) -> datetime:
    try:
        return _EPOCH + int(last_event_id) * _MICROSECOND
    except OverflowError:  # beyond year 9999
        raise ApiProblem(422, "header.last-event-id: not an id this stream sent",
                         "invalid-request", field="header.last-event-id") from None


# Digits (both streams' ids are numbers); empty is none, as EventSource sends
# before it saw an id. The OpenAPI document promises less than the check takes:
# up to 17 digits, or 18 from 1 or 2[0-4] (all below the year 10000 in
# microseconds); a larger 18-digit id is refused by ``_resumed_at``.
LastEventId = Annotated[str, Header(
    pattern=r"^[0-9]{0,18}$", description="the id of the last event seen, to resume after it",
    json_schema_extra={"pattern": r"^([0-9]{0,17}|1[0-9]{17}|2[0-4][0-9]{16})$"})]


def stream_routes(operations: Operations, settings: StreamSettings) -> APIRouter:
    router = APIRouter()
    store = operations.store

    @router.get("/instances/stream", response_class=EventSourceResponse, responses=_STREAM)
    async def instance_stream(filters: Annotated[InstanceFilter, Query()],
                              last_event_id: LastEventId = "") -> EventSourceResponse:
        """`event: instance` with an instance (as listed) each time one matching the
        filters changes, from now on (or after `Last-Event-ID`)."""
        # An empty one is none (what EventSource sends before any id).
        since = _resumed_at(last_event_id) if last_event_id else datetime.now(UTC)
        changes = instance_changes(store, filters.query(PAGE), since, settings)
        return EventSourceResponse(changes, ping=settings.ping)

    @router.get("/instances/{instance_id}/stream", response_class=EventSourceResponse,
                responses=_STREAM)
    async def history_stream(
        instance_id: str,
        after: Annotated[int | None, Query(ge=0, le=MAX_INTEGER,
                                           description="the last seq already seen")] = None,
        last_event_id: LastEventId = "",
    ) -> EventSourceResponse:
        """`event: entry` for each history line (as in history; from the first, or
        after `after` or `Last-Event-ID`), `event: instance` when the instance
        changes, and `event: end` once it has ended (then the stream closes: a
        client closes its EventSource on `end`)."""
        start = int(last_event_id) if last_event_id else after or 0
        await operations.found(instance_id)
        events = history_events(store, instance_id, start, settings)
        return EventSourceResponse(events, ping=settings.ping)

    return router
