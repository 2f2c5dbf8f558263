"""Scheduling tests run on SQLite and on PostgreSQL, each test on a fresh database.

``store_url`` is a new SQLite file or a new PostgreSQL database; ``store`` the
test's own connection; ``runtimes(n)`` opens runtimes with their own
connections and worker ids, like separate worker processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podium.runtime import Runtime
from podium.store import Store, open_store
from tests.scheduling.support import Runtimes
from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
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


@contextlib.asynccontextmanager
async def _runtime_on(url: str, worker_id: str) -> AsyncIterator[Runtime]:
    store = open_store(url)
    await store.open()
    runtime = Runtime(store=store, worker_id=worker_id, lease_seconds=5)
    try:
        yield runtime
    finally:
        await runtime.aclose()
        await store.close()


@pytest.fixture
def runtime_on(store_url: str) -> Runtimes:
    """``async with runtime_on("w1") as runtime``: a runtime with its own connection."""
    return lambda worker_id: _runtime_on(store_url, worker_id)
