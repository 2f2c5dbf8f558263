"""Numbered schema migrations, applied in order by ``Store.open()``.

Each module ``mNNNN_<what_it_does>.py`` defines ``statements(dialect) -> list[str]``.
``migrate`` runs the pending ones in one transaction, recording each in
``podium_migrations``; concurrent opens serialize on the dialect's migration lock
(PostgreSQL) or on the write lock every transaction takes (SQLite).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from podium.store._batch import Tx
from podium.store._dialect import Dialect
from podium.store.base import StoreError
from podium.store.schema import MIGRATIONS, create_statements


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    statements: Callable[[Dialect], list[str]]


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration module in this package, by number (1, 2, ... without gaps)."""
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        match = re.fullmatch(r"m(\d{4})_\w+", module_info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.append(Migration(int(match[1]), module_info.name, module.statements))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1, 2, ... without gaps: {numbers}")
    return tuple(found)


async def migrate(tx: Tx) -> list[str]:
    """Apply pending migrations; the names of those applied now."""
    if tx.dialect.migration_lock is not None:
        await tx.fetch(tx.dialect.migration_lock)
    for statement in create_statements(tx.dialect, MIGRATIONS):
        await tx.send(statement)
    applied = {int(row[0]) for row in await tx.fetch("SELECT number FROM podium_migrations")}
    known = migrations()
    unknown = sorted(applied - {m.number for m in known})
    if unknown:
        # Written by a newer podium: running old code on it could corrupt data.
        raise StoreError(f"the database has migrations this podium does not know: {unknown}")
    done = []
    for migration in known:
        if migration.number in applied:
            continue
        for statement in migration.statements(tx.dialect):
            await tx.send(statement)
        await tx.send(
            "INSERT INTO podium_migrations (number, name, applied_at) VALUES (?, ?, ?)",
            (migration.number, migration.name, tx.dialect.encode_time(datetime.now(UTC))),
        )
        done.append(migration.name)
    return done
