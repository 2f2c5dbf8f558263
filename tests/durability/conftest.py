"""Durability tests run on SQLite and on PostgreSQL, each test on a fresh database.

``store_url`` and ``store`` (tests/conftest.py): a fresh SQLite file or
PostgreSQL database, and the test's own connection to it; ``counting`` is an
HTTP service counting calls per idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability.workers import Workers
from tests.support.counting_server import CountingServer


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
