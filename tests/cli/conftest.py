from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer


@pytest.fixture
def sqlite(tmp_path: Path) -> str:
    """A store URL: a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'podium.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend: a fresh SQLite file, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'podium.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()
