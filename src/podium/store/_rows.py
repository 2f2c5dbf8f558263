"""Records to SQL parameters and rows back to records, by the column kinds in ``schema``.

Encoding happens in the caller, before a write is queued, so a bad value (a naive
datetime, something that is not JSON) raises from the call that passed it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ulid import ULID

from podium.limits import MAX_PAYLOAD_BYTES
from podium.store._dialect import Dialect, dump_json
from podium.store.base import (
    DefinitionRecord,
    Delivery,
    EventRecord,
    InstanceRecord,
    JournalEntry,
    PayloadTooLarge,
    ScheduleRecord,
    Serialized,
    SubscriptionRecord,
)
from podium.store.schema import (
    DEFINITIONS,
    DELIVERIES,
    EVENTS,
    INSTANCES,
    JOURNAL,
    RESOURCES,
    SCHEDULES,
    SUBSCRIPTIONS,
    Table,
)

Row = Sequence[Any]

# update_instance/release may set any instance column except its identity.
INSTANCE_FIELDS = frozenset(INSTANCES.names) - {"id"}


def encode(dialect: Dialect, kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        text = value.to_json() if isinstance(value, Serialized) else dump_json(value)
        return dialect.encode_json(_bounded(text))
    if kind == "time":
        return dialect.encode_time(value)
    return value


def _bounded(text: str) -> str:
    """``text``, unless it is more than ``MAX_PAYLOAD_BYTES`` of UTF-8 (README
    "Limits"): one value must not swell a journal, or a batch, without bound."""
    # A character is 1 to 4 bytes: encode only when the length leaves a doubt.
    if len(text) * 4 > MAX_PAYLOAD_BYTES and (
        len(text) > MAX_PAYLOAD_BYTES or len(text.encode()) > MAX_PAYLOAD_BYTES
    ):
        size = len(text.encode())
        raise PayloadTooLarge(
            f"a value of {size / 1048576:.1f} MiB is larger than the"
            f" {MAX_PAYLOAD_BYTES / 1048576:g} MiB the store keeps"
        )
    return text


def decode(dialect: Dialect, kind: str, raw: Any) -> Any:
    if raw is None:
        return None
    if kind == "json":
        return dialect.decode_json(raw)
    if kind == "time":
        return dialect.decode_time(raw)
    return raw


def _encode_row(dialect: Dialect, table: Table, values: Iterable[Any]) -> list[Any]:
    return [encode(dialect, c.kind, v) for c, v in zip(table.columns, values, strict=True)]


def _decode_row(dialect: Dialect, table: Table, row: Row) -> list[Any]:
    return [decode(dialect, c.kind, raw) for c, raw in zip(table.columns, row, strict=True)]


def normalized_json(value: Any) -> Any:
    """``value`` as it reads back from the store (tuples become lists, ...)."""
    return json.loads(dump_json(value))


def definition_params(dialect: Dialect, record: DefinitionRecord) -> list[Any]:
    return _encode_row(dialect, DEFINITIONS, [getattr(record, n) for n in DEFINITIONS.names])


def definition_from(dialect: Dialect, row: Row) -> DefinitionRecord:
    return DefinitionRecord(*_decode_row(dialect, DEFINITIONS, row))


def resource_params(dialect: Dialect, digest: str, content: str, at: datetime) -> list[Any]:
    return _encode_row(dialect, RESOURCES, [digest, content, at])


def instance_params(dialect: Dialect, record: InstanceRecord) -> list[Any]:
    values = [getattr(record, name) for name in INSTANCES.names]
    return _encode_row(dialect, INSTANCES, values)


def instance_from(dialect: Dialect, row: Row) -> InstanceRecord:
    return InstanceRecord(*_decode_row(dialect, INSTANCES, row))


def instance_changes(dialect: Dialect, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, encoded column values for an UPDATE."""
    unknown = sorted(set(changes) - INSTANCE_FIELDS)
    if unknown:
        raise TypeError(f"not settable instance fields: {', '.join(unknown)}")
    kinds = INSTANCES.kinds
    return {name: encode(dialect, kinds[name], value) for name, value in changes.items()}


# Two journal rows per task execution, the hottest write: its columns are spelled
# out rather than looked up by kind (checked against the schema here).
_JOURNAL_PARAMS = ("instance_id", "position", "kind", "at", "data", "worker")
assert tuple(c.name for c in JOURNAL.columns if c.name != "seq") == _JOURNAL_PARAMS


def journal_params(dialect: Dialect, entry: JournalEntry) -> tuple[Any, ...]:
    """Every journal column but ``seq``, which the store assigns when it writes."""
    data = entry.data
    return (
        entry.instance_id, entry.position, entry.kind, dialect.encode_time(entry.at),
        None if data is None else encode(dialect, "json", data), entry.worker,
    )


def journal_from(dialect: Dialect, row: Row) -> JournalEntry:
    values = dict(zip(JOURNAL.names, _decode_row(dialect, JOURNAL, row), strict=True))
    return JournalEntry(**values)


def schedule_params(dialect: Dialect, record: ScheduleRecord) -> list[Any]:
    return _encode_row(dialect, SCHEDULES, [getattr(record, n) for n in SCHEDULES.names])


def schedule_from(dialect: Dialect, row: Row) -> ScheduleRecord:
    return ScheduleRecord(*_decode_row(dialect, SCHEDULES, row))


# events ---------------------------------------------------------------------------------

_last_key = 0
_key_lock = threading.Lock()


def event_key() -> str:
    """A new inbox key: a lower-case ULID, greater than every key this process took
    before (two in the same millisecond still sort in the order they were taken)."""
    global _last_key
    with _key_lock:
        value = max(int(ULID()), _last_key + 1)
        _last_key = value
    return str(ULID.from_int(value)).lower()


def event_record(
    key: str, event: Mapping[str, Any], origin: str | None, received_at: datetime
) -> EventRecord:
    """The inbox record of a (validated, structured) CloudEvent."""
    return EventRecord(
        key=key, source=event["source"], id=event["id"], type=event["type"],
        subject=event.get("subject"), received_at=received_at, event=dict(event),
        origin=origin,
    )


def event_params(dialect: Dialect, record: EventRecord) -> list[Any]:
    return _encode_row(dialect, EVENTS, [getattr(record, name) for name in EVENTS.names])


def event_from(dialect: Dialect, row: Row, consumers: Iterable[str] = ()) -> EventRecord:
    values = dict(zip(EVENTS.names, _decode_row(dialect, EVENTS, row), strict=True))
    return EventRecord(**values, consumers=tuple(consumers))


def subscription_params(dialect: Dialect, record: SubscriptionRecord) -> list[list[Any]]:
    """One row per event type the subscription accepts (``state`` left to the caller
    when None: ``subscribe`` keeps the one already stored)."""
    match_from, match_value = record.correlation or (None, None)
    values = {name: getattr(record, name) for name in SUBSCRIPTIONS.names
              if name not in ("event_type", "match_from", "match_value")}
    values |= {"match_from": match_from, "match_value": match_value}
    return [
        _encode_row(dialect, SUBSCRIPTIONS, [
            event_type if name == "event_type" else values[name] for name in SUBSCRIPTIONS.names
        ])
        for event_type in sorted(set(record.types))
    ]


def subscriptions_from(dialect: Dialect, rows: Iterable[Row]) -> list[SubscriptionRecord]:
    """Rows (one per event type) grouped into one record per (instance_id, position),
    ordered by created_at, instance_id, position."""
    groups: dict[tuple[str, str], list[Any]] = {}
    types: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        values = _decode_row(dialect, SUBSCRIPTIONS, row)
        key = (values[0], values[1])
        groups.setdefault(key, values)
        types.setdefault(key, set()).add(values[2])
    records = [
        SubscriptionRecord(
            instance_id=values[0], position=values[1], types=tuple(sorted(types[key])),
            spec=values[3], state=values[4], created_at=values[5], deadline=values[6],
            correlation=(values[7], values[8]) if values[7] is not None else None,
        )
        for key, values in groups.items()
    ]
    return sorted(records, key=lambda r: (r.created_at, r.instance_id, r.position))


def delivery_params(dialect: Dialect, delivery: Delivery) -> list[Any]:
    return _encode_row(dialect, DELIVERIES, [getattr(delivery, n) for n in DELIVERIES.names])


def delivery_from(dialect: Dialect, row: Row) -> Delivery:
    return Delivery(*_decode_row(dialect, DELIVERIES, row))
