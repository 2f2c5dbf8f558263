"""Every store operation, as plain SQL over a ``Tx``; written once for both databases.

Parameters arrive encoded (see ``_rows``). Times that decide leases and timers are
taken by the caller from this machine's clock: workers sharing a PostgreSQL
database need synchronized clocks (NTP), as leases are seconds long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podium import semver
from podium.store import _rows
from podium.store._batch import Row, Tx
from podium.store._dialect import Dialect
from podium.store.base import (
    ACTIVE,
    CANCEL,
    CANCELLED,
    ENDED,
    FAULTED,
    INSTANCE_CANCELLED,
    INSTANCE_SUSPENDED,
    PENDING,
    RESUME,
    RESUMED,
    RETRIED,
    RETRY,
    RUNNING,
    SUSPEND,
    SUSPENDED,
    WAITING,
    ActiveCounts,
    DefinitionConflict,
    DefinitionRecord,
    InstanceQuery,
    InstanceRecord,
    JournalEntry,
    LeaseLost,
    StoreError,
    quarantined,
)
from podium.store.schema import DEFINITIONS, INSTANCES, JOURNAL, RESOURCES


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _literals(values: Sequence[str]) -> str:
    # Only for our own status constants, never for caller data.
    return ", ".join(f"'{value}'" for value in values)


_INSTANCE_COLUMNS = ", ".join(INSTANCES.names)
_DEFINITION_COLUMNS = ", ".join(DEFINITIONS.names)
_JOURNAL_COLUMNS = ", ".join(JOURNAL.names)
_RESOURCE_COLUMNS = ", ".join(RESOURCES.names)
_ENDED = _literals(ENDED)

# Ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits.
_CHUNK = 500


# definitions ----------------------------------------------------------------------------


async def put_definition(
    tx: Tx, params: Sequence[Any], document: Any, resources: Mapping[str, str] | None = None
) -> bool:
    inserted = await tx.fetch(
        f"INSERT INTO podium_definitions ({_DEFINITION_COLUMNS})"
        f" VALUES ({_marks(len(params))}) ON CONFLICT DO NOTHING RETURNING version",
        params,
    )
    if inserted:
        return True
    rows = await tx.fetch(
        "SELECT document, resources FROM podium_definitions"
        " WHERE namespace = ? AND name = ? AND version = ?",
        params[:3],
    )
    namespace, name, version = params[:3]
    if rows and tx.dialect.decode_json(rows[0][0]) == document:
        # A definition deployed before resources were stored has none to compare.
        known = _rows.decode(tx.dialect, "json", rows[0][1])
        if known is None or resources is None or known == resources:
            return False
        changed = sorted(
            ref for ref in {*known, *resources} if known.get(ref) != resources.get(ref)
        )
        raise DefinitionConflict(
            f"definition {namespace}/{name}:{version} is already deployed with other content "
            f"in {', '.join(changed)}"
        )
    raise DefinitionConflict(
        f"definition {namespace}/{name}:{version} is already deployed with another document"
    )


async def put_resources(tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
    """Resource texts by digest; one already stored is the same text."""
    await tx.send_many(
        f"INSERT INTO podium_resources ({_RESOURCE_COLUMNS}) VALUES ({_marks(3)})"
        " ON CONFLICT DO NOTHING",
        rows,
    )


async def get_resources(tx: Tx, digests: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(digests), _CHUNK):
        chunk = list(digests[start : start + _CHUNK])
        rows = await tx.fetch(
            f"SELECT digest, content FROM podium_resources WHERE digest IN ({_marks(len(chunk))})",
            chunk,
        )
        found.update((row[0], row[1]) for row in rows)
    return found


async def get_definition(
    tx: Tx, namespace: str, name: str, version: str | None
) -> DefinitionRecord | None:
    if version is None or version == "latest":
        versions = await tx.fetch(
            "SELECT version FROM podium_definitions WHERE namespace = ? AND name = ?",
            (namespace, name),
        )
        # Semantic-version order is awkward in SQL (and differs per dialect).
        version = semver.latest(row[0] for row in versions)
        if version is None:
            return None
    rows = await tx.fetch(
        f"SELECT {_DEFINITION_COLUMNS} FROM podium_definitions"
        " WHERE namespace = ? AND name = ? AND version = ?",
        (namespace, name, version),
    )
    return _rows.definition_from(tx.dialect, rows[0]) if rows else None


async def list_definitions(tx: Tx) -> list[DefinitionRecord]:
    rows = await tx.fetch(f"SELECT {_DEFINITION_COLUMNS} FROM podium_definitions")
    records = [_rows.definition_from(tx.dialect, row) for row in rows]
    return sorted(records, key=lambda r: (r.namespace, r.name, semver.key(r.version)))


# instances ------------------------------------------------------------------------------


async def create_instance(
    tx: Tx, params: Sequence[Any], record: InstanceRecord, history: list[Row]
) -> tuple[InstanceRecord, bool]:
    inserted = await tx.fetch(
        f"INSERT INTO podium_instances ({_INSTANCE_COLUMNS})"
        f" VALUES ({_marks(len(params))}) ON CONFLICT DO NOTHING RETURNING id",
        params,
    )
    if inserted:
        if history:
            await append_rows(tx, history)
        return record, True
    column, value = ("key", record.key) if record.key is not None else ("id", record.id)
    rows = await tx.fetch(
        f"SELECT {_INSTANCE_COLUMNS} FROM podium_instances WHERE {column} = ?", (value,)
    )
    if not rows:  # the conflicting row was the other unique column
        raise StoreError(f"instance {record.id!r} already exists with another key")
    return _rows.instance_from(tx.dialect, rows[0]), False


async def get_instance(tx: Tx, instance_id: str) -> InstanceRecord | None:
    rows = await tx.fetch(
        f"SELECT {_INSTANCE_COLUMNS} FROM podium_instances WHERE id = ?", (instance_id,)
    )
    return _rows.instance_from(tx.dialect, rows[0]) if rows else None


async def list_instances(tx: Tx, query: InstanceQuery) -> list[InstanceRecord]:
    where, params = _instance_filters(tx.dialect, query)
    # What changed since a time is a few rows of the updated_at index (live views
    # poll it every second), however many instances there are.
    order = "created_at" if query.updated_after is None else tx.dialect.unindexed("created_at")
    rows = await tx.fetch(
        f"SELECT {_INSTANCE_COLUMNS} FROM podium_instances"
        f"{' WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY {order} DESC, id DESC LIMIT ?",
        [*params, query.limit],
    )
    return [_rows.instance_from(tx.dialect, row) for row in rows]


def _instance_filters(dialect: Dialect, query: InstanceQuery) -> tuple[list[str], list[Any]]:
    """The WHERE conditions of ``query`` with their parameters."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("status", query.status), ("namespace", query.namespace),
                          ("name", query.name), ("version", query.version),
                          ("key", query.key), ("parent_id", query.parent)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    for column, operator, moment in (
        ("created_at", ">=", query.created_after), ("created_at", "<=", query.created_before),
        ("ended_at", ">=", query.ended_after), ("ended_at", "<=", query.ended_before),
        ("updated_at", ">", query.updated_after),
    ):
        if moment is not None:
            where.append(f"{column} {operator} ?")
            params.append(dialect.encode_time(moment))
    if query.search:
        pattern = "%" + re.sub(r"([!%_])", r"!\1", query.search.lower()) + "%"
        where.append("(LOWER(id) LIKE ? ESCAPE '!' OR LOWER(key) LIKE ? ESCAPE '!')")
        params += [pattern, pattern]
    if query.after is not None:
        moment, last_id = query.after
        encoded = dialect.encode_time(moment)
        where.append("(created_at < ? OR (created_at = ? AND id < ?))")
        params += [encoded, encoded, last_id]
    return where, params


def _assignments(changes: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} = ?" for name in changes)


async def update_instance(tx: Tx, instance_id: str, changes: Mapping[str, Any]) -> None:
    await tx.send(
        f"UPDATE podium_instances SET {_assignments(changes)} WHERE id = ?",
        [*changes.values(), instance_id],
        or_fail=StoreError(f"no instance {instance_id!r}"),
    )


# journal --------------------------------------------------------------------------------


# The columns are instance_id, seq, then the rest; seq is computed in the statement.
_APPEND = (
    f"INSERT INTO podium_journal ({_JOURNAL_COLUMNS}) VALUES (?,"
    " COALESCE((SELECT MAX(seq) FROM podium_journal WHERE instance_id = ?), 0) + 1,"
    f" {_marks(len(JOURNAL.names) - 2)})"
)


async def append_rows(tx: Tx, rows: list[Row]) -> None:
    """Insert journal rows (all columns but ``seq``), numbering each instance's
    entries after its last one, in the order given."""
    # Each row takes the next number in the statement itself: the rows before it in
    # this batch are visible to it, and MAX on the primary key (instance_id, seq)
    # reads one index entry, however long the journal (a separate
    # "SELECT ... IN (...) GROUP BY" read every row of every journal in the batch).
    await tx.send_many(_APPEND, [(row[0], row[0], *row[1:]) for row in rows])


async def read_journal(
    tx: Tx, instance_id: str, after_seq: int | None = None, limit: int | None = None
) -> list[JournalEntry]:
    sql = f"SELECT {_JOURNAL_COLUMNS} FROM podium_journal WHERE instance_id = ?"
    params: list[Any] = [instance_id]
    if after_seq is not None:
        sql += " AND seq > ?"
        params.append(after_seq)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = await tx.fetch(sql, params)
    return [_rows.journal_from(tx.dialect, row) for row in rows]


# leases and control ---------------------------------------------------------------------

# Claimable: not suspended, not ended, and nobody is running it. Unowned waiting
# instances wait for a timer (wake_at) or an event (wake_at NULL: not claimable).
_CLAIMABLE = f"""status IN ({_literals((PENDING, RUNNING, WAITING))}) AND (
    (owner IS NULL AND (status <> '{WAITING}' OR wake_at <= ?))
    OR (owner IS NOT NULL AND (lease_expires_at IS NULL OR lease_expires_at <= ?{{dead}}))
  )"""


# The crash counter (README "Poison instances"). A claim that takes an instance
# over (someone else's lease, or its own from before a restart: the run before
# did not end cleanly) compares the journal's length with the one recorded at
# the previous claim. A run alone (``claimed_alone``) that stopped its worker
# without progress counts a crash (``crashes + 1``); with progress, this crash is
# the first of a new series (1). A run in company that stopped makes the
# instance a suspect (at least 1) but counts no further: the crash may have been
# a neighbour's. Every claim records the length, looked up once per row through
# the journal's primary key, and whether it runs alone; SET reads the row as it was.
_CLAIM = """UPDATE podium_instances SET owner = ?, lease_expires_at = ?, updated_at = ?,
  crashes = CASE WHEN podium_instances.owner IS NOT NULL
      AND (podium_instances.owner <> ?{dead_again}) THEN
        CASE WHEN podium_instances.claimed_alone = 0
          THEN CASE WHEN podium_instances.crashes < 1 THEN 1 ELSE podium_instances.crashes END
        WHEN COALESCE(podium_instances.claimed_seq, 0) = claimable.seq
          THEN podium_instances.crashes + 1 ELSE 1 END
      ELSE podium_instances.crashes END,
  claimed_seq = claimable.seq,
  claimed_alone = ?
FROM (SELECT id,
    (SELECT COALESCE(MAX(seq), 0) FROM podium_journal WHERE instance_id = candidate.id) AS seq
  FROM podium_instances candidate WHERE {claimable}
  ORDER BY created_at, id LIMIT ?{skip_locked}) AS claimable
WHERE podium_instances.id = claimable.id
RETURNING {columns}"""

_QUALIFIED_INSTANCE_COLUMNS = ", ".join(f"podium_instances.{name}" for name in INSTANCES.names)


def _suspect(worker: str, dead_owners: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL for a *suspect*: a takeover (another owner, or the caller's previous
    self, held it when it stopped) that crashed before (``Store.claim``'s ``alone``)."""
    if worker in dead_owners:  # restarted: its own leases are its previous self's
        return "(owner IS NOT NULL AND crashes >= 1)", []
    return "(owner IS NOT NULL AND owner <> ? AND crashes >= 1)", [worker]


async def claim(
    tx: Tx, worker: str, limit: int, now: Any, lease_until: Any, dead_owners: Sequence[str],
    alone: bool | None = None,
) -> list[InstanceRecord]:
    marks = _marks(len(dead_owners))
    claimable = _CLAIMABLE.format(dead=f" OR owner IN ({marks})" if dead_owners else "")
    # Without isolation (None), every run counts as alone: every takeover counts.
    params: list[Any] = [
        worker, lease_until, now, worker, *dead_owners, 0 if alone is False else 1,
        now, now, *dead_owners,
    ]
    if alone is not None:
        suspect, suspect_params = _suspect(worker, dead_owners)
        claimable += f" AND {'' if alone else 'NOT '}{suspect}"
        params += suspect_params
    sql = _CLAIM.format(
        dead_again=f" OR podium_instances.owner IN ({marks})" if dead_owners else "",
        claimable=claimable,
        skip_locked=tx.dialect.skip_locked,
        columns=_QUALIFIED_INSTANCE_COLUMNS,
    )
    rows = await tx.fetch(sql, [*params, limit])
    records = [_rows.instance_from(tx.dialect, row) for row in rows]
    return sorted(records, key=lambda r: (r.created_at, r.id))  # RETURNING has no order


async def suspects_waiting(tx: Tx, worker: str, now: Any, dead_owners: Sequence[str]) -> bool:
    dead = f" OR owner IN ({_marks(len(dead_owners))})" if dead_owners else ""
    suspect, suspect_params = _suspect(worker, dead_owners)
    rows = await tx.fetch(
        f"SELECT 1 FROM podium_instances WHERE {_CLAIMABLE.format(dead=dead)}"
        f" AND {suspect} LIMIT 1",
        [now, now, *dead_owners, *suspect_params],
    )
    return bool(rows)


async def renew(tx: Tx, worker: str, lease_until: Any) -> list[InstanceRecord]:
    rows = await tx.fetch(
        "UPDATE podium_instances SET lease_expires_at = ? WHERE owner = ?"
        f" RETURNING {_INSTANCE_COLUMNS}",
        (lease_until, worker),
    )
    records = [_rows.instance_from(tx.dialect, row) for row in rows]
    return sorted(records, key=lambda r: (r.created_at, r.id))


async def release(
    tx: Tx, worker: str, instance_id: str, changes: Mapping[str, Any], history: list[Row],
    wake_if_mailbox: Any = None, listened: bool = True,
) -> None:
    """Give the instance up; ``history`` (journal rows, all columns but ``seq``) is
    appended in the same transaction, only if the worker still held it.

    ``wake_if_mailbox``: a time (encoded); ``wake_at`` becomes it instead of the
    value in ``changes`` when the instance has an unconsumed delivery."""
    lost = LeaseLost(f"instance {instance_id!r} is not held by worker {worker!r}")
    if wake_if_mailbox is not None:
        await _release_waking(tx, worker, instance_id, changes, history, wake_if_mailbox, lost)
        return
    update = f"UPDATE podium_instances SET {_assignments(changes)} WHERE id = ? AND owner = ?"
    if not history:
        await tx.send(update, [*changes.values(), instance_id, worker], or_fail=lost)
    # The row count decides whether to append, so wait for it (no pipelining).
    elif not await tx.fetch(f"{update} RETURNING id", [*changes.values(), instance_id, worker]):
        raise lost  # nothing written yet: the batch stays intact (see _batch)
    else:
        await append_rows(tx, history)
    if listened and changes.get("status") in ENDED:
        await _forget_listeners(tx, instance_id)


async def _forget_listeners(tx: Tx, instance_id: str) -> None:
    """An instance that ended listens no more: a listener interrupted by a timeout
    or a cancellation may have left its subscription (and deliveries it never
    took). Conditioned on the end being recorded (the release may have lost)."""
    ended = f"EXISTS (SELECT 1 FROM podium_instances WHERE id = ? AND status IN ({_ENDED}))"
    await tx.send(
        "DELETE FROM podium_deliveries WHERE instance_id = ? AND consumed_at IS NULL"
        f" AND {ended}", (instance_id, instance_id),
    )
    await tx.send(
        f"DELETE FROM podium_subscriptions WHERE instance_id = ? AND {ended}",
        (instance_id, instance_id),
    )


async def _release_waking(
    tx: Tx, worker: str, instance_id: str, changes: Mapping[str, Any], history: list[Row],
    now: Any, lost: LeaseLost,
) -> None:
    """``release`` of a listener parking: due at once if a delivery is waiting.

    The dispatcher locks the instance row before it wakes instances (see
    ``_event_operations.dispatch``), and so does this, before it looks at the
    mailbox in a separate statement: on PostgreSQL (READ COMMITTED) a statement
    sees what committed before it began, so whichever of the two comes second
    sees the other's work and the instance never sleeps on a full mailbox."""
    held = await tx.fetch(
        f"SELECT id FROM podium_instances WHERE id = ? AND owner = ?{tx.dialect.row_lock}",
        (instance_id, worker),
    )
    if not held:
        raise lost  # nothing written yet: the batch stays intact (see _batch)
    rest = {name: value for name, value in changes.items() if name != "wake_at"}
    otherwise = "?" if "wake_at" in changes else "wake_at"
    given = [changes["wake_at"]] if "wake_at" in changes else []
    assignments = ", ".join([*(f"{name} = ?" for name in rest), (
        "wake_at = CASE WHEN EXISTS (SELECT 1 FROM podium_deliveries"
        f" WHERE instance_id = ? AND consumed_at IS NULL) THEN ? ELSE {otherwise} END"
    )])
    await tx.send(
        f"UPDATE podium_instances SET {assignments} WHERE id = ? AND owner = ?",
        [*rest.values(), instance_id, now, *given, instance_id, worker],
    )
    if history:
        await append_rows(tx, history)


async def count_active(tx: Tx, now: Any) -> ActiveCounts:
    # Only active rows: ended ones (most of the table, kept for the retention) are
    # not read, and the status index finds the rest.
    rows = await tx.fetch(
        "SELECT status, COUNT(*), SUM(CASE WHEN lease_expires_at < ? THEN 1 ELSE 0 END)"
        f" FROM podium_instances WHERE status IN ({_marks(len(ACTIVE))}) GROUP BY status",
        (now, *ACTIVE),
    )
    statuses = dict.fromkeys(ACTIVE, 0)
    expired = 0
    for status, count, lapsed in rows:
        statuses[status] = int(count)
        expired += int(lapsed or 0)
    return ActiveCounts(statuses, expired)


async def owners(tx: Tx) -> list[str]:
    rows = await tx.fetch(
        "SELECT DISTINCT owner FROM podium_instances WHERE owner IS NOT NULL ORDER BY owner"
    )
    return [row[0] for row in rows]


def _control(
    record: InstanceRecord, command: str, now: datetime
) -> tuple[dict[str, Any], str | None]:
    """What ``command`` changes on ``record`` (the rules of ``Store.request``), and
    the kind of the history line that says so (None: nothing happened)."""
    if command == RETRY:
        if record.status != FAULTED:
            return {}, None
        # Back to pending with a clean slate; the journal stays, so it resumes by
        # replay (after a fault, from the task that faulted: engine.journal.retry_voids).
        return {
            "status": PENDING, "crashes": 0, "error": None, "output": None, "ended_at": None,
            "owner": None, "lease_expires_at": None, "request": None, "wake_at": None,
        }, RETRIED
    if record.status in ENDED:
        return {}, None
    if command == RESUME and record.status == SUSPENDED:
        changes = {"status": PENDING, "owner": None, "lease_expires_at": None, "request": None}
        return changes, RESUMED
    unattended = (
        record.owner is None or record.lease_expires_at is None or record.lease_expires_at <= now
    )
    if unattended and command == CANCEL:
        return {
            "status": CANCELLED,
            "ended_at": now,
            "error": None,
            "owner": None,
            "lease_expires_at": None,
            "request": None,
        }, INSTANCE_CANCELLED
    if unattended and command == SUSPEND:
        # Nobody would act on a request: a waiting instance might sleep for hours.
        if record.status == SUSPENDED:
            return {}, None
        changes = {
            "status": SUSPENDED, "owner": None, "lease_expires_at": None, "request": None
        }
        return changes, INSTANCE_SUSPENDED
    # Its worker acts on it, and writes the history line saying it did.
    return {"request": command}, f"instance.{command}-requested"


async def request(
    tx: Tx, instance_id: str, command: str, by: str | None
) -> InstanceRecord | None:
    rows = await tx.fetch(
        f"SELECT {_INSTANCE_COLUMNS} FROM podium_instances WHERE id = ?{tx.dialect.row_lock}",
        (instance_id,),
    )
    if not rows:
        return None
    record = _rows.instance_from(tx.dialect, rows[0])
    now = datetime.now(UTC)
    changes, kind = _control(record, command, now)
    if not changes or kind is None:
        return record
    # Every operator action is part of the instance's history (the audit trail),
    # written in the transaction that carries it out.
    said: dict[str, Any] = {"by": by, "status": record.status}
    if command == RETRY:
        said["after"] = "quarantine" if quarantined(record) else "fault"
    line = JournalEntry(instance_id, "/", kind, now, said)
    changes["updated_at"] = now
    encoded = _rows.instance_changes(tx.dialect, changes)
    await tx.send(
        f"UPDATE podium_instances SET {_assignments(encoded)} WHERE id = ?",
        [*encoded.values(), instance_id],
    )
    await append_rows(tx, [_rows.journal_params(tx.dialect, line)])
    if changes.get("status") in ENDED:
        await _forget_listeners(tx, instance_id)
    for name, value in changes.items():
        setattr(record, name, value)
    return record


async def purge_instances(tx: Tx, instance_ids: Sequence[str]) -> list[str]:
    """Delete these instances, those of them that have ended, with their journals;
    the ids of those deleted (an active one, or one gone already, is left out)."""
    ids: list[str] = []
    for start in range(0, len(instance_ids), _CHUNK):
        chunk = list(instance_ids[start : start + _CHUNK])
        gone = await tx.fetch(
            f"DELETE FROM podium_instances WHERE id IN ({_marks(len(chunk))})"
            f" AND status IN ({_ENDED}) RETURNING id",
            chunk,
        )
        ids += [row[0] for row in gone]
    await _delete_journals(tx, ids)
    return ids


async def _delete_journals(tx: Tx, instance_ids: Sequence[str]) -> None:
    for start in range(0, len(instance_ids), _CHUNK):
        chunk = instance_ids[start : start + _CHUNK]
        await tx.send(
            f"DELETE FROM podium_journal WHERE instance_id IN ({_marks(len(chunk))})", chunk
        )


async def purge(tx: Tx, ended_before: Any) -> list[str]:
    """Delete ended instances and their journals; the ids of those deleted."""
    # Instances first, then the journals of exactly those: deleting journals by the
    # same condition first could miss an instance that ends in between.
    gone = await tx.fetch(
        f"DELETE FROM podium_instances WHERE status IN ({_ENDED}) AND ended_at < ? RETURNING id",
        (ended_before,),
    )
    ids = [row[0] for row in gone]
    await _delete_journals(tx, ids)
    return ids
