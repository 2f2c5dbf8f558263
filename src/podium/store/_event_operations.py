"""The store operations of events (inbox, subscriptions, mailboxes) and of named
leases, as plain SQL over a ``Tx``; written once for both databases.

Parameters arrive encoded (see ``_rows``), except the deadline of ``dispatch``,
which is compared with this machine's clock when the transaction runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podium.store import _rows
from podium.store._batch import Tx
from podium.store._operations import _CHUNK, _marks
from podium.store._rows import Row
from podium.store.base import (
    DUE_CHANNEL,
    EVENTS_CHANNEL,
    SCHEDULE_SUBSCRIBER,
    WAITING,
    Delivery,
    EventRecord,
    LeaseLost,
    SubscriptionRecord,
)
from podium.store.schema import DELIVERIES, EVENTS, SUBSCRIPTIONS

_EVENT_COLUMNS = ", ".join(EVENTS.names)
_SUBSCRIPTION_COLUMNS = ", ".join(SUBSCRIPTIONS.names)
_DELIVERY_COLUMNS = ", ".join(DELIVERIES.names)


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> list[list[Any]]:
    return [list(values[start : start + size]) for start in range(0, len(values), size)]


# the inbox ------------------------------------------------------------------------------


async def put_events(tx: Tx, rows: Sequence[Row]) -> set[str]:
    """Insert inbox rows (keys first), skipping those whose source+id is stored
    already; the keys of the rows inserted."""
    inserted: set[str] = set()
    width = len(EVENTS.names)
    # A few dozen rows per statement: one round trip, far below parameter limits.
    for chunk in _chunks(rows, 50):
        values = ", ".join(f"({_marks(width)})" for _ in chunk)
        found = await tx.fetch(
            f"INSERT INTO podium_events ({_EVENT_COLUMNS}) VALUES {values}"
            " ON CONFLICT (source, id) DO NOTHING RETURNING key",
            [value for row in chunk for value in row],
        )
        inserted.update(row[0] for row in found)
    await _notify(tx, EVENTS_CHANNEL, bool(inserted))
    return inserted


async def _notify(tx: Tx, channel: str, happened: bool) -> None:
    statement = tx.dialect.notify(channel)
    if happened and statement is not None:
        await tx.send(statement)


async def _consumers(tx: Tx, keys: Sequence[str]) -> dict[str, list[str]]:
    """The instances (or schedules) each event was delivered to."""
    consumers: dict[str, list[str]] = {}
    for chunk in _chunks(keys):
        rows = await tx.fetch(
            "SELECT DISTINCT event_key, instance_id FROM podium_deliveries"
            f" WHERE event_key IN ({_marks(len(chunk))}) ORDER BY event_key, instance_id",
            chunk,
        )
        for key, instance_id in rows:
            consumers.setdefault(key, []).append(instance_id)
    return consumers


async def list_events(
    tx: Tx, type: str | None, since: Any, limit: int
) -> list[EventRecord]:
    conditions, params = [], []
    if type is not None:
        conditions.append("type = ?")
        params.append(type)
    if since is not None:
        conditions.append("received_at >= ?")
        params.append(since)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await tx.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM podium_events{where} ORDER BY key DESC LIMIT ?",
        [*params, limit],
    )
    consumers = await _consumers(tx, [row[0] for row in rows])
    return [_rows.event_from(tx.dialect, row, consumers.get(row[0], ())) for row in rows]


async def undispatched(tx: Tx, limit: int) -> list[EventRecord]:
    rows = await tx.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM podium_events WHERE dispatched_at IS NULL"
        " ORDER BY key LIMIT ?",
        (limit,),
    )
    return [_rows.event_from(tx.dialect, row) for row in rows]


# subscriptions and mailboxes ------------------------------------------------------------


async def subscriptions_for(
    tx: Tx, types: Sequence[str], values: Mapping[str, Sequence[str]] | None
) -> list[SubscriptionRecord]:
    wanted = sorted({*types, "*"})
    # Without values, every subscription of the types; with, those expecting no
    # particular value plus, per `from`, those expecting one of the given values
    # (the index on event_type, match_from, match_value finds them).
    conditions: list[tuple[str, list[Any]]] = [("", [])]
    if values is not None:
        conditions = [(" AND m.match_from IS NULL", [])]
        for source, carried in values.items():
            for part in _chunks(sorted(carried)):
                conditions.append((
                    f" AND m.match_from = ? AND m.match_value IN ({_marks(len(part))})",
                    [source, *part],
                ))
    rows: dict[tuple[Any, ...], Row] = {}
    for chunk in _chunks(wanted):
        for condition, params in conditions:
            # Every row of a matching subscription: its record names all its types.
            found = await tx.fetch(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM podium_subscriptions s WHERE EXISTS"
                " (SELECT 1 FROM podium_subscriptions m WHERE m.instance_id = s.instance_id"
                f" AND m.position = s.position AND m.event_type IN ({_marks(len(chunk))})"
                f"{condition})",
                [*chunk, *params],
            )
            rows.update(((row[0], row[1], row[2]), row) for row in found)
    return _rows.subscriptions_from(tx.dialect, rows.values())


async def correlation_sources(tx: Tx, types: Sequence[str]) -> list[str]:
    wanted = sorted({*types, "*"})
    found: set[str] = set()
    for chunk in _chunks(wanted):
        rows = await tx.fetch(
            "SELECT DISTINCT match_from FROM podium_subscriptions"
            f" WHERE event_type IN ({_marks(len(chunk))}) AND match_from IS NOT NULL",
            chunk,
        )
        found.update(row[0] for row in rows)
    return sorted(found)


async def get_subscriptions(tx: Tx, instance_id: str) -> list[SubscriptionRecord]:
    rows = await tx.fetch(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM podium_subscriptions WHERE instance_id = ?",
        (instance_id,),
    )
    return _rows.subscriptions_from(tx.dialect, rows)


async def subscribe(
    tx: Tx, instance_id: str, position: str, rows: Sequence[list[Any]], keep_state: bool
) -> None:
    """Replace the rows of (instance_id, position) by ``rows``; ``keep_state``: their
    ``state`` (None) becomes the one stored before, if any."""
    where = "WHERE instance_id = ? AND position = ?"
    if keep_state:
        old = await tx.fetch(
            f"SELECT state FROM podium_subscriptions {where} AND state IS NOT NULL"
            f" LIMIT 1{tx.dialect.row_lock}",
            (instance_id, position),
        )
        if old:
            state = _rows.encode(tx.dialect, "json", _rows.decode(tx.dialect, "json", old[0][0]))
            index = SUBSCRIPTIONS.names.index("state")
            rows = [[*row[:index], state, *row[index + 1 :]] for row in rows]
    await tx.send(f"DELETE FROM podium_subscriptions {where}", (instance_id, position))
    await tx.send_many(
        f"INSERT INTO podium_subscriptions ({_SUBSCRIPTION_COLUMNS})"
        f" VALUES ({_marks(len(SUBSCRIPTIONS.names))})",
        rows,
    )


async def unsubscribe(
    tx: Tx, instance_id: str, position: str, consumed: Sequence[str], now: Any
) -> None:
    if consumed:
        await consume(tx, instance_id, position, consumed, now)
    # Delivered and never taken (the listener needed no more): a leftover would
    # wake the instance at every park (release's wake_if_mailbox).
    await tx.send(
        "DELETE FROM podium_deliveries WHERE instance_id = ? AND position = ?"
        " AND consumed_at IS NULL",
        (instance_id, position),
    )
    await tx.send(
        "DELETE FROM podium_subscriptions WHERE instance_id = ? AND position = ?",
        (instance_id, position),
    )



async def dispatch(
    tx: Tx,
    event_keys: Sequence[str],
    deliveries: Sequence[Row],
    states: Sequence[Row],
    now: Any,
    deadline: datetime | None,
) -> None:
    """``deliveries``: delivery rows; ``states``: (state, instance_id, position)."""
    if deadline is not None and datetime.now(UTC) >= deadline:
        # Another dispatcher may hold the lease by now: write nothing (see _batch).
        raise LeaseLost(f"the dispatcher's lease expired at {deadline.isoformat()}")
    if deliveries:
        await tx.send_many(
            f"INSERT INTO podium_deliveries ({_DELIVERY_COLUMNS})"
            f" VALUES ({_marks(len(DELIVERIES.names))}) ON CONFLICT DO NOTHING",
            deliveries,
        )
    if states:
        await tx.send_many(
            "UPDATE podium_subscriptions SET state = ? WHERE instance_id = ? AND position = ?",
            states,
        )
    for chunk in _chunks(event_keys):
        await tx.send(
            f"UPDATE podium_events SET dispatched_at = ? WHERE key IN ({_marks(len(chunk))})",
            [now, *chunk],
        )
    woken = sorted(
        {row[0] for row in deliveries if not str(row[0]).startswith(SCHEDULE_SUBSCRIBER)}
    )
    for chunk in _chunks(woken):
        # Lock first, in id order, as release(wake_if_mailbox=True) does: whichever
        # of a parking listener and this delivery comes second sees the other's
        # commit, so a parked instance never sleeps on a full mailbox.
        marks = _marks(len(chunk))
        await tx.fetch(
            f"SELECT id FROM podium_instances WHERE id IN ({marks})"
            f" ORDER BY id{tx.dialect.row_lock}",
            chunk,
        )
        await tx.send(
            f"UPDATE podium_instances SET wake_at = ? WHERE id IN ({marks})"
            f" AND status = '{WAITING}' AND owner IS NULL AND (wake_at IS NULL OR wake_at > ?)",
            [now, *chunk, now],
        )
    await _notify(tx, DUE_CHANNEL, bool(woken))


async def mailbox(tx: Tx, instance_id: str, position: str) -> list[Delivery]:
    rows = await tx.fetch(
        f"SELECT {_DELIVERY_COLUMNS} FROM podium_deliveries"
        " WHERE instance_id = ? AND position = ? AND consumed_at IS NULL ORDER BY event_key",
        (instance_id, position),
    )
    return [_rows.delivery_from(tx.dialect, row) for row in rows]


async def consume(
    tx: Tx, instance_id: str, position: str, event_keys: Sequence[str], now: Any
) -> None:
    for chunk in _chunks(event_keys):
        await tx.send(
            "UPDATE podium_deliveries SET consumed_at = ?"
            " WHERE instance_id = ? AND position = ? AND consumed_at IS NULL"
            f" AND event_key IN ({_marks(len(chunk))})",
            [now, instance_id, position, *chunk],
        )


async def purge_listeners(tx: Tx, instance_ids: Sequence[str]) -> None:
    """The subscriptions and mailboxes (consumed or not) of purged instances."""
    for chunk in _chunks(instance_ids):
        for table in ("podium_subscriptions", "podium_deliveries"):
            await tx.send(f"DELETE FROM {table} WHERE instance_id IN ({_marks(len(chunk))})", chunk)


async def purge(tx: Tx, instance_ids: Sequence[str], received_before: Any) -> None:
    """The subscriptions and mailboxes of purged instances, and inbox events received
    before a time with their consumed deliveries (one not consumed yet is an event
    a live instance still waits to read: it carries its own copy and stays)."""
    await purge_listeners(tx, instance_ids)
    gone = await tx.fetch(
        "DELETE FROM podium_events WHERE received_at < ? RETURNING key", (received_before,)
    )
    for chunk in _chunks([row[0] for row in gone]):
        await tx.send(
            "DELETE FROM podium_deliveries WHERE consumed_at IS NOT NULL"
            f" AND event_key IN ({_marks(len(chunk))})",
            chunk,
        )


# named leases ---------------------------------------------------------------------------


async def acquire_lease(tx: Tx, name: str, owner: str, now: Any, until: Any) -> bool:
    rows = await tx.fetch(
        "INSERT INTO podium_leases (name, owner, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at"
        " WHERE podium_leases.owner = excluded.owner OR podium_leases.expires_at <= ?"
        " RETURNING owner",
        (name, owner, until, now),
    )
    return bool(rows)


async def release_lease(tx: Tx, name: str, owner: str) -> None:
    await tx.send("DELETE FROM podium_leases WHERE name = ? AND owner = ?", (name, owner))
