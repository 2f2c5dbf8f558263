"""The schedule rows (``podium.scheduling``), as plain SQL over a ``Tx``; written
once for both databases.

One row per scheduled workflow (namespace/name). Firing is guarded twice: a
worker fires only the rows whose lease it took (``claim``), and the instance it
starts carries an idempotency key made of the due time, so a fire is never
doubled even when a lease expires in the middle of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from podium.store import _rows
from podium.store._batch import Tx
from podium.store.base import ScheduleRecord
from podium.store.schema import SCHEDULES

_COLUMNS = ", ".join(SCHEDULES.names)
_MARKS = ", ".join("?" * len(SCHEDULES.names))

# A newer definition replaces what is scheduled and when; the history (last fire)
# stays. The lease is dropped: a worker still firing the replaced schedule then
# finds it lost, and its ``fired`` does not overwrite the new next due time.
_PUT = f"""INSERT INTO podium_schedules ({_COLUMNS}) VALUES ({_MARKS})
ON CONFLICT (namespace, name) DO UPDATE SET version = excluded.version,
  kind = excluded.kind, spec = excluded.spec, next_due = excluded.next_due,
  updated_at = excluded.updated_at, owner = NULL, lease_expires_at = NULL"""


async def put_schedule(tx: Tx, params: Sequence[Any]) -> None:
    await tx.send(_PUT, params)


async def delete_schedule(tx: Tx, namespace: str, name: str) -> None:
    await tx.send(
        "DELETE FROM podium_schedules WHERE namespace = ? AND name = ?", (namespace, name)
    )


async def list_schedules(tx: Tx) -> list[ScheduleRecord]:
    rows = await tx.fetch(f"SELECT {_COLUMNS} FROM podium_schedules ORDER BY namespace, name")
    return [_rows.schedule_from(tx.dialect, row) for row in rows]


async def claim_schedules(tx: Tx, owner: str, now: Any, until: Any) -> list[ScheduleRecord]:
    # One statement: on PostgreSQL a concurrent claimer waits for the row lock and
    # then re-checks the condition on the row as the first one left it (leased),
    # so it skips it; SQLite runs one write transaction at a time.
    rows = await tx.fetch(
        "UPDATE podium_schedules SET owner = ?, lease_expires_at = ?"
        " WHERE next_due IS NOT NULL AND next_due <= ?"
        " AND (owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= ?)"
        f" RETURNING {_COLUMNS}",
        (owner, until, now, now),
    )
    records = [_rows.schedule_from(tx.dialect, row) for row in rows]
    return sorted(records, key=lambda r: (r.namespace, r.name))  # RETURNING has no order


async def fired(
    tx: Tx, namespace: str, name: str, owner: str, due: Any, next_due: Any,
    instance_id: str | None, now: Any,
) -> bool:
    rows = await tx.fetch(
        "UPDATE podium_schedules SET last_due = ?, last_instance = ?, next_due = ?,"
        " owner = NULL, lease_expires_at = NULL, updated_at = ?"
        " WHERE namespace = ? AND name = ? AND owner = ? RETURNING name",
        (due, instance_id, next_due, now, namespace, name, owner),
    )
    return bool(rows)


async def arm_schedule(
    tx: Tx, namespace: str, name: str, last_instance: str, next_due: Any, now: Any
) -> bool:
    rows = await tx.fetch(
        "UPDATE podium_schedules SET next_due = ?, updated_at = ?"
        " WHERE namespace = ? AND name = ? AND next_due IS NULL AND last_instance = ?"
        " RETURNING name",
        (next_due, now, namespace, name, last_instance),
    )
    return bool(rows)
