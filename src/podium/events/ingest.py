"""The one way a CloudEvent enters the store: ``ingest``.

``podium events publish``, the NATS JetStream consumer and the HTTP ingress all
call it, so that an event is validated, deduplicated and announced the same way
whichever door it came through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podium.events.cloudevents import validate_all
from podium.store.base import EventRecord, Store


@dataclass(frozen=True)
class IngestResult:
    """What became of each event, in the order given: its inbox record, or None
    when an event with the same source and id was stored before (CloudEvents'
    uniqueness rule: it is kept once, as it was first stored)."""

    events: tuple[dict[str, Any], ...]  # validated, structured form
    records: tuple[EventRecord | None, ...]

    @property
    def stored(self) -> list[EventRecord]:
        return [record for record in self.records if record is not None]

    @property
    def duplicates(self) -> list[dict[str, Any]]:
        return [event for event, record in zip(self.events, self.records, strict=True)
                if record is None]


async def ingest(
    store: Store,
    events: Sequence[Any],
    origin: str,
    notify: Callable[[], None] | None = None,
) -> IngestResult:
    """Validate every event, then store them in one transaction: all or nothing,
    one invalid event refuses the batch (``InvalidEvent``, naming it and the
    attribute) and nothing is stored. ``origin`` says which door they came
    through (``cli``, ``nats``, ``http``). ``notify`` (the process's dispatcher)
    is called once new events are stored, so that waiting instances hear of them
    without polling."""
    valid = validate_all(events)
    if not valid:
        return IngestResult((), ())
    records = await store.put_events(valid, origin)
    if notify is not None and any(record is not None for record in records):
        notify()
    return IngestResult(tuple(valid), tuple(records))
