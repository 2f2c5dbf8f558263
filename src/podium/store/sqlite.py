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

Group commit: writes queue up and everything pending commits in one
``BEGIN IMMEDIATE`` transaction. Where a batch commits depends on its cost:

- ``synchronous=NORMAL``: on the event-loop thread, once per loop turn. Such a
  commit does not fsync (tens of microseconds, less than the two thread
  wake-ups a hop to another thread costs, which dominated a durable step), and
  the connection never waits for a lock: if another process holds the file,
  the batch goes to the writer thread instead, which waits there. WAL
  checkpoints, the one slow part, run on the writer thread (see below).
- otherwise (``FULL`` fsyncs every commit): on the writer thread, which owns
  its own connection and resolves the callers with one ``call_soon_threadsafe``
  per batch.

Reads run on a separate connection in a reader thread (WAL lets them proceed
while a batch commits).

The WAL stays bounded (README "Durability"). SQLite rewinds a WAL only once a
checkpoint has copied all of it, and a checkpoint running alongside new commits
never does: the WAL grew by gigabytes under a busy loop. So every few hundred
commits the writer thread checkpoints alongside the commits, and when the WAL
has grown past a few megabytes it finishes the job while this process's writes
wait for it; once writes pause for a second, a TRUNCATE checkpoint empties the
file; ``journal_size_limit`` caps what a rewound WAL keeps on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
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
_CHECKPOINT = "checkpoint"  # a writer-thread job, queued among writes
# Inline commits, or writes, between two WAL checkpoints (SQLite's own default is
# every 1,000 pages; a commit here is a few pages, a write about one).
_CHECKPOINT_EVERY = 200
_CHECKPOINT_EVERY_WRITES = 1000
# Writes paused this long: the writer thread truncates the WAL to nothing.
_IDLE_SECONDS = 1.0
# A WAL of more pages than this (4 KiB each) is checkpointed entirely, so that
# it starts over.
_WAL_REWIND_FRAMES = 1000
# What a rewound WAL may keep on disk (SQLite truncates it to this size).
_WAL_SIZE_LIMIT = 16 * 1024 * 1024


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
        mapped = StoreError(f"sqlite: {error}", transient=_transient(error))
        mapped.__cause__ = error
        return mapped
    return error


def _transient(error: sqlite3.Error) -> bool:
    """Whether trying again later may succeed: a lock held by another process, an
    I/O error or a full disk may pass; a corrupt file ("database disk image is
    malformed", "file is not a database") or a missing table will not."""
    return isinstance(error, sqlite3.OperationalError) and "no such" not in str(error)


def _busy(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


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
        self._queue: queue.SimpleQueue[Write | str | None] = queue.SimpleQueue()
        # The event-loop fast path (see the module docstring).
        self._inline = self._synchronous in ("NORMAL", "OFF")
        self._loop_tx: SqliteTx | None = None
        self._pending: list[Write] = []
        self._flush_scheduled = False
        self._commits_since_checkpoint = 0
        self._writes_since_checkpoint = 0
        # Set while the writer thread checkpoints: writes then queue behind it, so
        # that the checkpoint finishes and the WAL can be rewound (module docstring).
        self._checkpointing = threading.Event()
        # A checkpoint is queued and not done yet: while the writer thread lags
        # (a busy machine), inline commits stop after a while and queue behind it.
        self._checkpoint_queued = threading.Event()
        self._commits = 0  # by either thread; compared, never exact
        self._last_commit = 0.0  # time.monotonic() of the latest commit
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
                self._enter_wal(connection)
                connection.execute(f"PRAGMA synchronous = {self._synchronous}")
                connection.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
                if self._inline:
                    # Checkpoints run on the writer thread, never inside a commit
                    # made on the event loop (see _flush_inline).
                    connection.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            connection.close()
            raise
        return connection

    def _enter_wal(self, connection: sqlite3.Connection) -> None:
        """``PRAGMA journal_mode = WAL``, waiting (up to the busy timeout) for other
        processes opening the same new file: switching a file to WAL needs it to
        itself, and SQLite answers "database is locked" at once instead of calling
        the busy handler when several processes try together."""
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.002
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

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
            if self._inline:
                self._loop_tx = self._open_loop_writer()
        except BaseException:
            await self.close()
            raise

    def _open_reader(self) -> None:
        try:
            self._read_tx = SqliteTx(self._connect(reader=True))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._target}: {exc}") from exc

    def _open_loop_writer(self) -> SqliteTx:
        try:
            connection = self._connect(reader=False)
            # Never wait on the event loop: a locked file sends the batch to the thread.
            connection.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self._target}: {exc}") from exc
        return SqliteTx(connection)

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
        if self._pending:
            self._flush_inline()
        if self._loop_tx is not None:
            self._loop_tx.connection.close()
            self._loop_tx = None
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
            raise StoreError(f"sqlite: {exc}", transient=_transient(exc)) from exc

    # writes -----------------------------------------------------------------------------

    def _submit(self, write: Write) -> None:
        if self._loop_tx is None or self._held_back():
            self._queue.put(write)
            return
        self._pending.append(write)
        if not self._flush_scheduled:
            # Everything submitted during this loop turn commits together.
            self._flush_scheduled = True
            write.future.get_loop().call_soon(self._flush_inline)

    def _flush_inline(self) -> None:
        self._flush_scheduled = False
        tx = self._loop_tx
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        if self._pending:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_inline)
        if tx is None or self._held_back():
            # Closed meanwhile, or a checkpoint runs: the thread does the work next.
            for write in batch:
                self._queue.put(write)
            return
        try:
            tx.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            # Another process holds the write lock: wait for it on the thread.
            for write in batch:
                self._queue.put(write)
            return
        _settle_all(list(zip((w.future for w in batch), self._commit(tx, batch, begun=True),
                             strict=True)))
        self._commits_since_checkpoint += 1
        self._writes_since_checkpoint += len(batch)
        if not self._checkpoint_queued.is_set() and (
            self._commits_since_checkpoint >= _CHECKPOINT_EVERY
            or self._writes_since_checkpoint >= _CHECKPOINT_EVERY_WRITES
        ):
            self._commits_since_checkpoint = self._writes_since_checkpoint = 0
            self._checkpoint_queued.set()
            self._queue.put(_CHECKPOINT)

    def _held_back(self) -> bool:
        """Whether inline commits wait for the writer thread's checkpoint: while it
        holds writes, or when it lags so far behind that the WAL would grow on."""
        return self._checkpointing.is_set() or (
            self._checkpoint_queued.is_set()
            and self._writes_since_checkpoint >= 2 * _CHECKPOINT_EVERY_WRITES
        )

    def _write_loop(self) -> None:
        try:
            connection = self._connect(reader=False)
        except sqlite3.Error as exc:
            self._fail_queued(f"cannot open {self._target}: {exc}", exc)
            return
        tx = SqliteTx(connection)
        truncated_at = self._commits
        try:
            stop = False
            while not stop:
                try:
                    first = self._queue.get(timeout=_IDLE_SECONDS)
                except queue.Empty:
                    if self._commits != truncated_at and self._idle():
                        truncated_at = self._commits
                        self._checkpoint(connection, "TRUNCATE")
                    continue
                if first is None:
                    break
                if first == _CHECKPOINT:
                    self._checkpoint(connection, "PASSIVE")
                    self._checkpoint_queued.clear()
                    continue
                assert isinstance(first, Write)
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        write = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if write is None:
                        stop = True  # finish this batch, then stop
                        break
                    if isinstance(write, Write):
                        batch.append(write)
                self._resolve(batch, self._commit(tx, batch))
        finally:
            connection.close()

    def _idle(self) -> bool:
        return time.monotonic() - self._last_commit >= _IDLE_SECONDS

    def _checkpoint(self, connection: sqlite3.Connection, mode: str) -> None:
        """Copy the WAL into the database.

        PASSIVE runs alongside this process's commits and never waits for anyone.
        Commits made meanwhile are not copied, so under steady load the WAL is
        never entirely checkpointed, and SQLite rewinds only a WAL that is: once
        it holds more than ``_WAL_REWIND_FRAMES`` pages, a RESTART checkpoint
        copies the rest while this process's writes wait (briefly: PASSIVE did
        the bulk), and the next commit starts the WAL over. TRUNCATE (when idle)
        also empties the file. Both wait a moment at most for other processes,
        then try again later, rather than hold up this process's writes behind
        a long reader."""
        try:
            if mode == "PASSIVE":
                _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames <= _WAL_REWIND_FRAMES:
                    return
                mode = "RESTART"
            with self._writes_held():
                connection.execute("PRAGMA busy_timeout = 100")
                try:
                    connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
                finally:
                    connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        except sqlite3.Error:
            pass  # busy or failing: the next checkpoint tries again

    @contextlib.contextmanager
    def _writes_held(self) -> Iterator[None]:
        """This process's writes queue up behind the writer thread meanwhile."""
        self._checkpointing.set()
        try:
            yield
        finally:
            self._checkpointing.clear()

    def _commit(self, tx: SqliteTx, batch: list[Write], begun: bool = False) -> list[Outcome]:
        connection = tx.connection
        changed = connection.total_changes
        try:
            if not begun:
                connection.execute("BEGIN IMMEDIATE")
            outcomes = drive(run_batch(tx, batch, ops.append_rows))
            connection.execute("COMMIT")
            if connection.total_changes != changed:
                # Only commits that wrote something: an idle worker's claims change
                # nothing, and must not keep the WAL from being truncated.
                self._commits += 1
                self._last_commit = time.monotonic()
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
            if not isinstance(write, Write):
                continue
            transient = isinstance(cause, sqlite3.Error) and _transient(cause)
            error = StoreError(message, transient=transient)
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
