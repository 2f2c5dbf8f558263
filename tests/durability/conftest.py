"""Durability tests run on SQLite and on PostgreSQL, each test on a fresh database.

``store_url`` is a new SQLite file under ``tmp_path`` or a new PostgreSQL
database on the session's server; ``store`` is the test's own connection to it
(runtimes under test open their own, like separate processes would);
``counting`` is an HTTP service counting calls per idempotency key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from podium.store import Store, open_store
from tests.durability.workers import Workers
from tests.support.counting_server import CountingServer
from tests.support.postgres import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'podium.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def counting() -> Iterator[CountingServer]:
    with CountingServer() as server:
        yield server


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Worker processes; whatever still runs at the end is stopped."""
    found = Workers(tmp_path)
    yield found
    found.close()
