"""Every store test runs on SQLite and on PostgreSQL.

``url`` is a database with the tables already emptied: a file under ``tmp_path``,
or the session's PostgreSQL test database, truncated before each test.
``fresh_url()`` gives a database nobody has opened yet (for migration tests).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from podium.store import Store, open_store
from tests.support.postgres import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_database(postgres: PostgresServer) -> str:
    return postgres.create_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], str]:
    numbers = itertools.count(1)

    def fresh() -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'fresh-{next(numbers)}.db'}"
        # Looked up lazily so that SQLite-only runs never start a server.
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database()

    return fresh


@pytest.fixture
def url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'podium.db'}"
    database: str = request.getfixturevalue("postgres_database")
    with psycopg.connect(database, autocommit=True) as connection:
        exists = connection.execute("SELECT to_regclass('podium_instances')").fetchone()
        if exists is not None and exists[0] is not None:
            connection.execute(
                "TRUNCATE podium_definitions, podium_instances, podium_journal, podium_resources,"
                " podium_events, podium_subscriptions, podium_deliveries, podium_schedules,"
                " podium_leases"
            )
    return database


@pytest.fixture
async def store(url: str) -> AsyncIterator[Store]:
    opened = open_store(url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def other_store(url: str) -> AsyncIterator[Store]:
    """A second store object on the same database, like another worker process."""
    opened = open_store(url)
    await opened.open()
    yield opened
    await opened.close()
