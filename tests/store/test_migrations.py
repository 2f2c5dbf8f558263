"""Opening stores: URLs, migrations, schema, errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import psycopg
import pytest

from podium.store import (
    DEFAULT_STORE_URL,
    DefinitionRecord,
    InstanceRecord,
    JournalEntry,
    StoreError,
    open_store,
    store_url,
)
from podium.store.migrations import migrations
from podium.store.schema import DEFINITIONS, INSTANCES, JOURNAL
from tests.store.factories import instance


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Ask the database directly, bypassing the store."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return connection.execute(sql).fetchall()
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def applied(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT number, name FROM podium_migrations ORDER BY number")


EXPECTED = [(m.number, m.name) for m in migrations()]


def test_migrations_are_numbered_and_named() -> None:
    assert EXPECTED[0] == (1, "m0001_create_definitions_instances_journal")
    assert [number for number, _ in EXPECTED] == list(range(1, len(EXPECTED) + 1))


def test_tables_match_the_records() -> None:
    assert INSTANCES.names == tuple(f.name for f in fields(InstanceRecord))
    assert DEFINITIONS.names == tuple(f.name for f in fields(DefinitionRecord))
    assert set(JOURNAL.names) == {f.name for f in fields(JournalEntry)}


async def test_open_applies_migrations_once(fresh_url: Callable[[], str]) -> None:
    url = fresh_url()
    for _ in range(2):
        store = open_store(url)
        await store.open()
        await store.create_instance(instance())
        await store.close()
    assert applied(url) == EXPECTED
    assert query(url, "SELECT COUNT(*) FROM podium_instances") == [(2,)]


async def test_concurrent_opens_of_a_new_database(fresh_url: Callable[[], str]) -> None:
    url = fresh_url()
    stores = [open_store(url) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        assert applied(url) == EXPECTED
        created = await asyncio.gather(*(s.create_instance(instance(key="k")) for s in stores))
        assert sum(is_new for _, is_new in created) == 1
    finally:
        await asyncio.gather(*(store.close() for store in stores))


def _database_at(url: str, number: int, dialect: Any) -> None:
    """Write, bypassing the store, a database as the first ``number`` migrations
    left it, with one instance in it."""
    from podium.store.schema import MIGRATIONS, create_statements

    stamp = "'2026-01-01T00:00:00Z'" if url.startswith("sqlite") else "now()"
    statements = create_statements(dialect, MIGRATIONS)
    for migration in migrations()[:number]:
        statements += migration.statements(dialect)
        statements.append(
            f"INSERT INTO podium_migrations VALUES ({migration.number}, '{migration.name}',"
            f" {stamp})"
        )
    statements.append(
        "INSERT INTO podium_instances (id, namespace, name, version, status, created_at,"
        f" updated_at) VALUES ('old', 'n', 'w', '1', 'pending', {stamp}, {stamp})"
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            for statement in statements:
                connection.execute(statement)
    else:
        with psycopg.connect(url) as connection:
            for statement in statements:
                connection.execute(statement)


async def test_an_older_database_is_upgraded_in_place(fresh_url: Callable[[], str]) -> None:
    """A database written when only the first migration existed keeps its rows and
    gains the later columns (with their defaults)."""
    url = fresh_url()
    store = open_store(url)
    _database_at(url, 1, store.dialect)  # type: ignore[attr-defined]
    await store.open()
    try:
        old = await store.get_instance("old")
        assert old is not None and old.crashes == 0 and old.claimed_seq is None
    finally:
        await store.close()
    assert applied(url) == EXPECTED


async def test_a_database_before_events_gains_the_event_tables(
    fresh_url: Callable[[], str],
) -> None:
    url = fresh_url()
    store = open_store(url)
    _database_at(url, 2, store.dialect)  # type: ignore[attr-defined]
    await store.open()
    try:
        assert await store.get_instance("old") is not None
        event = {"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}
        [record] = await store.put_events([event])
        assert record is not None and [r.key for r in await store.undispatched(5)] == [record.key]
        assert await store.acquire_lease("dispatcher", "me", 30) is True
    finally:
        await store.close()
    assert applied(url) == EXPECTED


async def test_a_database_from_a_newer_podium_is_refused(fresh_url: Callable[[], str]) -> None:
    url = fresh_url()
    store = open_store(url)
    await store.open()
    await store.close()
    stamp = "'2099-01-01T00:00:00Z'" if url.startswith("sqlite") else "now()"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            connection.execute(f"INSERT INTO podium_migrations VALUES (999, 'm0999_x', {stamp})")
    else:
        with psycopg.connect(url) as connection:
            connection.execute(f"INSERT INTO podium_migrations VALUES (999, 'm0999_x', {stamp})")
    with pytest.raises(StoreError, match=r"does not know: \[999\]"):
        await open_store(url).open()


async def test_store_must_be_open(url: str) -> None:
    store = open_store(url)
    with pytest.raises(StoreError, match="not open"):
        await store.get_instance("x")
    await store.open()
    with pytest.raises(StoreError, match="cannot be opened again"):
        await store.open()
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        await store.create_instance(instance())


# URLs -------------------------------------------------------------------------------------


def test_store_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    assert store_url(None) == DEFAULT_STORE_URL == "sqlite:///./podium.db"
    monkeypatch.setenv("PODIUM_STORE", "postgresql://db/podium")
    assert store_url(None) == "postgresql://db/podium"
    assert store_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/db", "unsupported store URL"),
        ("podium.db", "unsupported store URL"),
        ("sqlite://host/podium.db", "not a SQLite URL"),
        ("sqlite:///", "without a path"),
        ("sqlite:///p.db?synchronous=SOMETIMES", "synchronous must be one of"),
        ("sqlite:///p.db?journal=off", "unknown SQLite URL options"),
        ("sqlite:///p.db?busy_timeout=soon", "busy_timeout"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(url)


def test_passwords_stay_out_of_messages() -> None:
    with pytest.raises(StoreError) as raised:
        open_store("mysql://admin:hunter2@db/podium")
    assert "hunter2" not in str(raised.value) and "admin:***@db" in str(raised.value)
    assert "hunter2" not in repr(open_store("postgresql://admin:hunter2@db/podium"))


async def test_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/podium.db?synchronous=full")
    (tmp_path / "data").mkdir()
    await store.open()
    await store.close()
    assert (tmp_path / "data" / "podium.db").exists()


async def test_sqlite_in_memory() -> None:
    first, second = open_store("sqlite:///:memory:"), open_store("sqlite:///:memory:")
    await first.open()
    await second.open()
    record = instance()
    await first.create_instance(record)
    assert await first.get_instance(record.id) == record
    assert await second.get_instance(record.id) is None  # private to each store object
    await first.close()
    await second.close()


async def test_sqlite_directory_missing(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/missing/podium.db")
    with pytest.raises(StoreError, match="cannot open"):
        await store.open()


async def test_postgres_unreachable() -> None:
    store = open_store("postgres://nobody:secret@127.0.0.1:1/podium")
    with pytest.raises(StoreError, match="cannot open") as raised:
        await store.open()
    assert "secret" not in str(raised.value)


async def test_postgres_database_missing(postgres: Any) -> None:
    store = open_store(postgres.url("podium_test_does_not_exist"))
    with pytest.raises(StoreError, match="does not exist"):
        await store.open()
