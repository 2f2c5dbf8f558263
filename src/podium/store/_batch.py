"""Group commit, written once for both databases.

Every store operation is an ``async def op(tx)`` over the small ``Tx`` interface
below. PostgreSQL awaits it on a real connection (pipelined); SQLite drives the
same coroutine synchronously on its writer or reader thread (``drive``): its
``Tx`` never suspends, so one ``send(None)`` runs an operation to the end.

A batch runs the writes that queued up while the previous batch committed, in one
transaction. Journal appends in the batch are merged into one multi-row insert.
An operation may refuse (``StoreError``) only before it has written anything, so a
refusal leaves the batch intact; any other error rolls the batch back and the
backend retries each write alone, so one bad write fails only its own caller.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from podium.store._dialect import Dialect
from podium.store.base import StoreError

T = TypeVar("T")

# Enough to amortize one commit over many callers, small enough that one batch does
# not hold the writer (and everyone queued behind it) for long.
MAX_BATCH = 512

Row = tuple[Any, ...]


class Tx(ABC):
    """One connection inside one transaction (or a read-only connection)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.operation = 0  # which write of the batch is running, for ``failures``
        self.failures: dict[int, StoreError] = {}

    @abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a statement and return its rows (PostgreSQL waits for the server)."""

    @abstractmethod
    async def send(
        self, sql: str, params: Sequence[Any] = (), *, or_fail: StoreError | None = None
    ) -> None:
        """Run a statement without waiting for its result (PostgreSQL pipelines it).

        ``or_fail``: when the statement changes no row, the running operation fails
        with this error once the batch is flushed (the statement wrote nothing)."""

    @abstractmethod
    async def send_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    async def flush(self) -> None:  # noqa: B027 - nothing to wait for unless pipelined
        """Wait until everything sent has run and ``failures`` is complete."""

    def fail(self, error: StoreError) -> None:
        self.failures.setdefault(self.operation, error)


Op = Callable[[Tx], Coroutine[Any, Any, T]]


@dataclass
class Write:
    """A queued write: an operation, or journal rows to merge into the batch's insert."""

    future: asyncio.Future[Any]
    op: Op[Any] | None = None
    journal_rows: Sequence[Row] | None = None


# (result, error): exactly one is meaningful.
Outcome = tuple[Any, BaseException | None]


async def run_batch(
    tx: Tx, writes: Sequence[Write], append_rows: Callable[[Tx, list[Row]], Awaitable[None]]
) -> list[Outcome]:
    """Run ``writes`` in the current transaction; the caller commits."""
    tx.failures = {}
    outcomes: list[Outcome] = [(None, None)] * len(writes)
    rows = [row for w in writes if w.journal_rows is not None for row in w.journal_rows]
    if rows:
        # Appends go first, merged: they touch only the journal, which no other write
        # reads except purge, and purge only concerns long-ended instances.
        tx.operation = -1
        await append_rows(tx, rows)
    for index, write in enumerate(writes):
        if write.op is None:
            continue
        tx.operation = index
        try:
            outcomes[index] = (await write.op(tx), None)
        except StoreError as refused:
            outcomes[index] = (None, refused)
    await tx.flush()
    for index, error in tx.failures.items():
        outcomes[index] = (None, error)
    return outcomes


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (an operation over SQLite's ``Tx``)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("a store operation awaited something other than its Tx")


def settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    """Resolve a caller's future unless the caller gave up waiting."""
    if future.done():
        return
    value, error = outcome
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
