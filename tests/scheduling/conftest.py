"""Scheduling tests run on SQLite and on PostgreSQL, each test on a fresh database.

``store_url`` and ``store`` come from tests/conftest.py; ``runtime_on`` opens
runtimes with their own connections and worker ids, like separate worker
processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from podium.runtime import Runtime
from podium.store import open_store
from tests.scheduling.support import Runtimes


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
