"""The embedded store: one SQLite file in WAL mode.

URL: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
``sqlite:///:memory:`` (private to this store object, gone when it closes).
Query options:

- ``synchronous=NORMAL`` (default): in WAL mode a commit survives a crash of the
  process but the last commits may be lost if the machine loses power. ``FULL``
  syncs the WAL on every commit (one fsync per batch, thanks to group commit).
  ``EXTRA`` and ``OFF`` are passed through too.
- ``busy_timeout=<seconds>`` (default 10): how long to wait for another process
  holding the write lock on the same file.

One writer thread owns the write connection. Writes queue up; the thread takes
everything pending, runs it in one ``BEGIN IMMEDIATE`` transaction (group commit)
and resolves the callers' futures with one ``call_soon_threadsafe`` per batch.
Reads run on a separate connection in a reader thread (WAL lets them proceed
while the writer writes), so nothing blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from podium.store import _operations as ops
from podium.store._batch import MAX_BATCH, Op, Outcome, Row, Tx, Write, drive, run_batch, settle
from podium.store._dialect import Dialect
from podium.store._sqlstore import SQLStore
from podium.store.base import StoreError

T = TypeVar("T")

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteTx(Tx):
    """Operations over a sqlite3 connection; nothing here ever suspends (see ``drive``)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(SqliteStore.dialect)
        self.connection = connection

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.connection.execute(sql, params).fetchall()

    async def send(
        self, sql: str, params: Sequence[Any] = (), *, or_fail: StoreError | None = None
    ) -> None:
        cursor = self.connection.execute(sql, params)
        if or_fail is not None and cursor.rowcount == 0:
            self.fail(or_fail)

    async def send_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.connection.executemany(sql, rows)


def _store_error(error: BaseException) -> BaseException:
    """The error a caller sees: SQLite's own errors become ``StoreError``."""
    if isinstance(error, sqlite3.Error):
        mapped = StoreError(f"sqlite: {error}")
        mapped.__cause__ = error
        return mapped
    return error


def _isolatable(error: BaseException) -> bool:
    """Whether retrying a failed batch one write at a time can single out a culprit.
    OperationalError (locked, I/O, disk full) would just fail every retry, slowly."""
    return not isinstance(error, sqlite3.OperationalError)


class SqliteStore(SQLStore):
    dialect = Dialect()

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
            raise StoreError(f"not a SQLite URL: {url!r} (use sqlite:///path/to/podium.db)")
        path = parts.path[1:]
        if not path:
            raise StoreError(f"SQLite URL without a path: {url!r}")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        self._synchronous = options.pop("synchronous", "NORMAL").upper()
        if self._synchronous not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}: {url!r}")
        try:
            self._busy_timeout = float(options.pop("busy_timeout", "10"))
        except ValueError:
            raise StoreError(f"busy_timeout must be a number of seconds: {url!r}") from None
        if options:
            raise StoreError(f"unknown SQLite URL options {sorted(options)}: {url!r}")
        self._memory = path == ":memory:"
        # A private shared-cache database lets the reader connection see the writer's.
        self._target = (
            f"file:podium-{uuid.uuid4().hex}?mode=memory&cache=shared"
            if self._memory
            else str(Path(path).expanduser())
        )
        self._queue: queue.SimpleQueue[Write | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._read_tx: SqliteTx | None = None

    # connections ----------------------------------------------------------------------

    def _connect(self, *, reader: bool) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._target,
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            uri=self._memory,
            cached_statements=256,
        )
        try:
            if reader:
                connection.execute("PRAGMA query_only = ON")
                if self._memory:
                    # Shared cache locks tables instead of using WAL snapshots; reading
                    # uncommitted rows is what keeps the reader from blocking on them.
                    connection.execute("PRAGMA read_uncommitted = ON")
            else:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException:
            connection.close()
            raise
        return connection

    async def open(self) -> None:
        """Start the writer, apply migrations, then open the read connection."""
        if self._state != "new":
            raise StoreError(f"{self!r} cannot be opened again")
        self._state = "open"
        self._writer = threading.Thread(
            target=self._write_loop, name="podium-sqlite-writer", daemon=True
        )
        self._writer.start()
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="podium-sqlite-reader")
        try:
            await self._migrate()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._reader, self._open_reader)
        except BaseException:
            await self.close()
            raise

    def _open_reader(self) -> None:
        try:
            self._read_tx = SqliteTx(self._connect(reader=True))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._target}: {exc}") from exc

    def _close_reader(self) -> None:
        if self._read_tx is not None:
            self._read_tx.connection.close()
            self._read_tx = None

    async def close(self) -> None:
        """Finish queued writes, then stop both threads and close their connections."""
        if self._state == "closed":
            return
        self._state = "closed"
        loop = asyncio.get_running_loop()
        if self._reader is not None:
            await loop.run_in_executor(self._reader, self._close_reader)
            await asyncio.to_thread(self._reader.shutdown)
        if self._writer is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._writer.join)

    # reads ------------------------------------------------------------------------------

    async def _read(self, op: Op[T]) -> T:
        assert self._reader is not None
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._run_read, op)

    def _run_read(self, op: Op[T]) -> T:
        if self._read_tx is None:
            raise StoreError(f"{self!r} is not open for reading")
        try:
            return drive(op(self._read_tx))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    # writes -----------------------------------------------------------------------------

    def _submit(self, write: Write) -> None:
        self._queue.put(write)

    def _write_loop(self) -> None:
        try:
            connection = self._connect(reader=False)
        except sqlite3.Error as exc:
            self._fail_queued(f"cannot open {self._target}: {exc}", exc)
            return
        tx = SqliteTx(connection)
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        write = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if write is None:
                        stop = True  # finish this batch, then stop
                        break
                    batch.append(write)
                self._resolve(batch, self._commit(tx, batch))
        finally:
            connection.close()

    def _commit(self, tx: SqliteTx, batch: list[Write]) -> list[Outcome]:
        connection = tx.connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            outcomes = drive(run_batch(tx, batch, ops.append_rows))
            connection.execute("COMMIT")
            return outcomes
        except Exception as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if len(batch) > 1 and _isolatable(exc):
                return [self._commit(tx, [write])[0] for write in batch]
            return [(None, _store_error(exc)) for _ in batch]

    def _fail_queued(self, message: str, cause: BaseException) -> None:
        """The writer could not start: fail every write until close() says stop."""
        while (write := self._queue.get()) is not None:
            error = StoreError(message)
            error.__cause__ = cause
            self._resolve([write], [(None, error)])

    @staticmethod
    def _resolve(batch: list[Write], outcomes: list[Outcome]) -> None:
        # One wake-up of each event loop per batch, not one per write.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]]
        by_loop = defaultdict(list)
        for write, outcome in zip(batch, outcomes, strict=True):
            by_loop[write.future.get_loop()].append((write.future, outcome))
        for loop, settled in by_loop.items():
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, outcome in settled:
        settle(future, outcome)
