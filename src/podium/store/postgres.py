"""The scale-out store: PostgreSQL through psycopg 3 (async) and a connection pool.

URL: ``postgresql://user:password@host:5432/db`` (or ``postgres://``); anything
libpq accepts in a URI works (``?host=/socket/dir``, ``sslmode=...``).

One writer coroutine group-commits: it takes every write pending, runs them in one
transaction in pipeline mode (statements go out without waiting for each reply,
journal appends as one ``executemany``) and resolves the callers' futures after
the commit. The writer keeps a connection of its own: a commit is one pipeline,
``BEGIN`` to ``COMMIT``, synced once (bench/README.md: taking a pooled connection,
checking it, and psycopg's transaction block cost more CPU than the commit).
Reads use the pool. Workers claim instances with ``SELECT ... FOR UPDATE SKIP
LOCKED``, so concurrent claimers never wait for or take each other's rows.

JSON lives in JSONB, which does not keep object key order and refuses ``\\u0000``
in strings; timestamps in ``timestamptz`` (read back in UTC).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import AsyncConnection, AsyncCursor, AsyncPipeline
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from podium.store import _operations as ops
from podium.store._batch import MAX_BATCH, Op, Outcome, Row, Tx, Write, run_batch, settle
from podium.store._dialect import Dialect, utc
from podium.store._sqlstore import SQLStore, redact
from podium.store.base import DUE_CHANNEL, EVENTS_CHANNEL, StoreError

T = TypeVar("T")
log = logging.getLogger("podium.store")

# Any constant shared by every podium process: "podium" in ASCII.
_MIGRATION_LOCK_KEY = 0x706F6469756D


@lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


def _verbatim(text: Any) -> Any:
    return text


class PostgresDialect(Dialect):
    name = "postgresql"
    types: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "integer": "BIGINT",
        "json": "JSONB",
        "time": "TIMESTAMPTZ",
    }
    row_lock = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    migration_lock = f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})"

    def notify(self, channel: str) -> str | None:
        return f"NOTIFY podium_{channel}"

    def sql(self, text: str) -> str:
        return _placeholders(text)

    def unindexed(self, column: str) -> str:
        return column

    def encode_json(self, text: str) -> Any:
        # Already serialized (strictly, by the caller): send the text as it is.
        return Jsonb(text, dumps=_verbatim)

    def decode_json(self, raw: Any) -> Any:
        return raw  # psycopg parses jsonb itself

    def encode_time(self, value: datetime) -> Any:
        return utc(value)

    def decode_time(self, raw: Any) -> datetime:
        value: datetime = raw.astimezone(UTC)
        return value

    def json_text(self, column: str, key: str) -> str:
        return f"{column} ->> '{key}'"


class PgTx(Tx):
    """Operations over one psycopg connection, pipelined when ``pipeline`` is given."""

    def __init__(
        self, connection: AsyncConnection[Any], pipeline: AsyncPipeline | None = None
    ) -> None:
        super().__init__(PostgresStore.dialect)
        self._connection = connection
        self._pipeline = pipeline
        self._checks: list[tuple[int, AsyncCursor[Any], StoreError]] = []

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._connection.cursor()
        await cursor.execute(self.dialect.sql(sql), params)
        return await cursor.fetchall()

    async def send(
        self, sql: str, params: Sequence[Any] = (), *, or_fail: StoreError | None = None
    ) -> None:
        cursor = self._connection.cursor()
        await cursor.execute(self.dialect.sql(sql), params)
        if or_fail is not None:
            # The row count is known only once the pipeline is synced: see flush().
            self._checks.append((self.operation, cursor, or_fail))

    async def send_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._connection.cursor().executemany(self.dialect.sql(sql), rows)

    async def flush(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.sync()
        for operation, cursor, error in self._checks:
            if cursor.rowcount == 0:
                self.failures.setdefault(operation, error)
        self._checks.clear()


def _silent(connection: AsyncConnection[Any]) -> bool:
    """Whether an idle connection has nothing to read, as a sound one has (a server
    that ended it, by a restart or ``pg_terminate_backend``, sent an error or closed
    it). A peek at the socket: no round trip, which the pool's check costs."""
    peek = socket.socket(fileno=connection.pgconn.socket)
    try:
        peek.setblocking(False)
        peek.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        peek.detach()
    return False  # something to read (an error, or the end of the stream)


async def _answers(connection: AsyncConnection[Any]) -> bool:
    """Whether a connection with something to read still works: a round trip, as
    the pool's check does (what was there may be harmless: a TLS session ticket,
    a parameter the server reports)."""
    try:
        await connection.execute("")
    except (psycopg.Error, OSError):
        return False
    return True


def _ended_by_server(error: BaseException) -> bool:
    """Whether the server answered with the end of the session (SQLSTATE 57P..,
    operator intervention: a terminated backend, a shutdown)."""
    return isinstance(error, psycopg.Error) and (error.sqlstate or "").startswith("57P")


def _store_error(error: BaseException) -> BaseException:
    """The error a caller sees: psycopg's own errors become ``StoreError``."""
    if isinstance(error, psycopg.Error):
        mapped = StoreError(f"postgresql: {error}", transient=_transient(error))
        mapped.__cause__ = error
        return mapped
    return error


def _transient(error: psycopg.Error) -> bool:
    """A lost or refused connection (a server restarting, a pool timeout) may pass;
    a missing table or a refused statement will not."""
    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def _isolatable(error: BaseException) -> bool:
    """Whether retrying a failed batch one write at a time can single out a culprit:
    not when the server or connection failed (every retry would fail, slowly), but
    yes for a deadlock or serialization failure (the retries will not collide)."""
    if isinstance(error, psycopg.Error) and (error.sqlstate or "").startswith("40"):
        return True  # class 40, transaction rollback: deadlock, serialization failure
    return not isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


class PostgresStore(SQLStore):
    dialect = PostgresDialect()

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        super().__init__(url)
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise StoreError(f"not a PostgreSQL URL: {redact(url)!r}")
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._queue: asyncio.Queue[Write | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._writer_connection: AsyncConnection[Any] | None = None
        # watch(): one connection listening for the other processes' notifications.
        self._watchers: list[Callable[[str], None]] = []
        self._listener: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect, start the writer and apply migrations."""
        if self._state != "new":
            raise StoreError(f"{self!r} cannot be opened again")
        self._state = "open"
        try:
            # A direct connection first: a failing pool only reports a timeout, this
            # reports why (wrong password, no such database, refused, ...).
            connection = await AsyncConnection.connect(self.url, connect_timeout=10)
            await connection.close()
            self._pool = AsyncConnectionPool(
                self.url,
                min_size=1,
                max_size=self._pool_size,
                kwargs={"autocommit": True},
                # A connection the server dropped (restart, idle timeout) is replaced
                # before use instead of failing a whole batch.
                check=AsyncConnectionPool.check_connection,
                open=False,
                name="podium",
            )
            await self._pool.open(wait=True, timeout=30)
            self._writer = asyncio.create_task(self._write_loop(), name="podium-postgres-writer")
            await self._migrate()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"cannot open {redact(self.url)}: {exc}") from exc
            raise

    async def close(self) -> None:
        """Finish queued writes, stop the writer and close the pool."""
        if self._state == "closed":
            return
        self._state = "closed"
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._writer is not None:
            self._queue.put_nowait(None)
            await self._writer
        await self._drop_writer_connection()
        if self._pool is not None:
            await self._pool.close()

    # notifications ----------------------------------------------------------------------

    async def watch(self, on_change: Callable[[str], None]) -> bool:
        self._check_open()
        self._watchers.append(on_change)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="podium-postgres-listen")
        return True

    async def _listen(self) -> None:
        """LISTEN on a connection of its own (NOTIFY is sent by the transactions
        that store events or make listeners due: _event_operations); reconnects
        after a failure, and then reports every channel, since notifications sent
        while it was away are lost."""
        pause = 0.5
        while True:
            try:
                async with await AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=10
                ) as connection:
                    for channel in (EVENTS_CHANNEL, DUE_CHANNEL):
                        await connection.execute(f"LISTEN podium_{channel}")
                    pause = 0.5
                    self._changed(EVENTS_CHANNEL, DUE_CHANNEL)
                    async for notice in connection.notifies():
                        self._changed(notice.channel.removeprefix("podium_"))
            except psycopg.Error as exc:
                log.warning("listening for notifications on %s failed (%s); retrying in %gs"
                            " (polling meanwhile)", redact(self.url), exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)

    def _changed(self, *channels: str) -> None:
        for channel in channels:
            for watcher in list(self._watchers):
                watcher(channel)

    # reads ------------------------------------------------------------------------------

    async def _read(self, op: Op[T]) -> T:
        assert self._pool is not None
        try:
            async with self._pool.connection() as connection:
                return await op(PgTx(connection))
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: {exc}", transient=_transient(exc)) from exc

    # writes -----------------------------------------------------------------------------

    def _submit(self, write: Write) -> None:
        self._queue.put_nowait(write)

    async def _write_loop(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                write = self._queue.get_nowait()
                if write is None:
                    stop = True  # finish this batch, then stop
                    break
                batch.append(write)
            try:
                outcomes = await self._commit(batch)
            except BaseException:  # cancelled with the event loop: nobody will settle these
                for write in batch:
                    write.future.cancel()
                raise
            for write, outcome in zip(batch, outcomes, strict=True):
                settle(write.future, outcome)

    async def _commit(self, batch: list[Write], *, again: bool = True) -> list[Outcome]:
        try:
            connection = await self._connected_writer()
            begin = connection.cursor()
            try:
                async with connection.pipeline() as pipeline:
                    tx = PgTx(connection, pipeline)
                    await begin.execute("BEGIN")
                    outcomes = await run_batch(tx, batch, ops.append_rows)
                    await tx.send("COMMIT")
                    await pipeline.sync()
                return outcomes
            except BaseException as exc:
                await self._roll_back(connection)
                lost = connection.broken or _ended_by_server(exc)
                if again and lost and begin.pgresult is None:
                    # The server ended the session before the batch began (its farewell
                    # had not arrived when the connection was checked): no answer came,
                    # not even BEGIN's, and answers come in order, so nothing ran; the
                    # batch goes again, once, on a new connection.
                    await self._drop_writer_connection()
                    return await self._commit(batch, again=False)
                raise
        except Exception as exc:
            if len(batch) > 1 and _isolatable(exc):
                return [(await self._commit([write]))[0] for write in batch]
            return [(None, _store_error(exc)) for _ in batch]

    async def _connected_writer(self) -> AsyncConnection[Any]:
        """The writer's own connection (autocommit: each batch says BEGIN and
        COMMIT itself), opened again when the server ended it."""
        connection = self._writer_connection
        if connection is not None and not connection.closed and (
            _silent(connection) or await _answers(connection)
        ):
            return connection
        await self._drop_writer_connection()
        connection = await AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=10
        )
        self._writer_connection = connection
        return connection

    async def _roll_back(self, connection: AsyncConnection[Any]) -> None:
        """Leave no transaction open after a failed batch; a connection that cannot
        even roll back is dropped (the next batch connects again)."""
        try:
            if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                await connection.execute("ROLLBACK")
        except (psycopg.Error, OSError):
            await self._drop_writer_connection()

    async def _drop_writer_connection(self) -> None:
        connection, self._writer_connection = self._writer_connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()
