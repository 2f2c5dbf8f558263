"""``podium store check``: is this store usable? Read-only, never migrates.

SQLite: ``PRAGMA integrity_check`` over the whole file, then the tables, the
migrations and a count of each table. PostgreSQL: connect, then the same
tables, migrations and counts (the server keeps its own pages consistent).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from podium.store._sqlstore import redact
from podium.store.base import StoreError
from podium.store.migrations import migrations
from podium.store.schema import (
    DEFINITIONS,
    DELIVERIES,
    EVENTS,
    INSTANCES,
    JOURNAL,
    LEASES,
    MIGRATIONS,
    RESOURCES,
    SCHEDULES,
    SUBSCRIPTIONS,
)

# The tables of the newest migration, in the order a report lists them.
TABLES = tuple(table.name for table in (
    MIGRATIONS, DEFINITIONS, INSTANCES, JOURNAL, RESOURCES,
    EVENTS, SUBSCRIPTIONS, DELIVERIES, SCHEDULES, LEASES,
))

# integrity_check stops after this many problems: enough to say what is wrong.
_MAX_PROBLEMS = 20


@dataclass
class Report:
    """What a check found: ``problems`` (empty: the store is usable), rows per
    table, and the migrations applied and still pending."""

    url: str
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    applied: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def check(url: str) -> Report:
    """Check the store at ``url`` without changing it."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return await asyncio.to_thread(_check_sqlite, url)
    if scheme in ("postgresql", "postgres"):
        return await _check_postgres(url)
    raise StoreError(f"unsupported store URL {redact(url)!r}")


async def quick_check(url: str) -> list[str]:
    """SQLite's ``PRAGMA quick_check`` (integrity_check without the index
    contents: linear in the file's size): problems, or none. PostgreSQL keeps its
    pages consistent itself: none. A worker runs this before it starts, so that
    it does not work on a corrupt file until a query happens to fail."""
    if urlsplit(url).scheme != "sqlite":
        return []
    path = urlsplit(url).path[1:]

    def run() -> list[str]:
        if path == ":memory:" or not Path(path).expanduser().is_file():
            return []
        try:
            connection = sqlite3.connect(
                f"file:{Path(path).expanduser()}?mode=ro", uri=True, timeout=10
            )
            try:
                rows = connection.execute(f"PRAGMA quick_check({_MAX_PROBLEMS})").fetchall()
            finally:
                connection.close()
        except sqlite3.Error as exc:
            return [str(exc)]
        return _lines(rows)

    return await asyncio.to_thread(run)


def _lines(rows: list[tuple[Any, ...]]) -> list[str]:
    """Problems from integrity_check/quick_check rows (which may span several lines,
    under a ``*** in database main ***`` heading); none when the answer is ``ok``."""
    return [
        line.strip() for row in rows if row[0] != "ok" for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("***")
    ]


def _judge(report: Report, present: set[str], applied: list[int]) -> None:
    """Missing tables, and migrations this podium does not know."""
    if not present:
        report.problems.append("no podium tables: podium creates them when it first opens a store")
        return
    report.problems += [f"table {table} is missing" for table in TABLES if table not in present]
    report.applied = sorted(applied)
    known = {m.number for m in migrations()}
    newer = sorted(set(applied) - known)
    if newer:
        report.problems.append(f"migrations {newer} were applied by a newer podium: upgrade it")
    if MIGRATIONS.name in present:
        report.pending = sorted(known - set(applied))


def _check_sqlite(url: str) -> Report:
    report = Report(url)
    path = urlsplit(url).path[1:]
    if path == ":memory:":
        report.problems.append("an in-memory database has nothing to check")
        return report
    if not Path(path).expanduser().is_file():
        report.problems.append(f"no database file at {path}")
        return report
    try:
        # Read-only: a check must not create, migrate or repair anything.
        connection = sqlite3.connect(
            f"file:{Path(path).expanduser()}?mode=ro", uri=True, timeout=10,
            isolation_level=None,
        )
    except sqlite3.Error as exc:
        report.problems.append(f"cannot open {path}: {exc}")
        return report
    try:
        rows = connection.execute(f"PRAGMA integrity_check({_MAX_PROBLEMS})").fetchall()
        report.problems += _lines(rows)
        present = {str(row[0]) for row in connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'")} & set(TABLES)
        applied = [int(row[0]) for row in connection.execute(
            f"SELECT number FROM {MIGRATIONS.name}")] if MIGRATIONS.name in present else []
        _judge(report, present, applied)
        for table in TABLES:
            if table in present:
                report.counts[table] = connection.execute(
                    f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.Error as exc:
        report.problems.append(f"sqlite: {exc}")
    finally:
        connection.close()
    return report


async def _check_postgres(url: str) -> Report:
    import psycopg

    report = Report(url)
    try:
        connection = await psycopg.AsyncConnection.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        report.problems.append(f"cannot connect: {' '.join(str(exc).split())}")
        return report
    try:
        async with connection:

            async def rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
                return await (await connection.execute(sql, params)).fetchall()

            present = {t for t in TABLES if (await rows("SELECT to_regclass(%s)", t))[0][0]}
            applied = [int(row[0]) for row in await rows(
                f"SELECT number FROM {MIGRATIONS.name}")] if MIGRATIONS.name in present else []
            _judge(report, present, applied)
            for table in TABLES:
                if table in present:
                    report.counts[table] = (await rows(f"SELECT count(*) FROM {table}"))[0][0]
    except psycopg.Error as exc:
        report.problems.append(f"postgresql: {' '.join(str(exc).split())}")
    return report
