"""Replay or record: the one place where task outcomes meet the store.

Every task outcome is journaled before the next task starts. When an
instance runs again (after a crash, a parked timer or a resume), each task
first looks its position up: a recorded outcome is returned as it was,
without running the task again; otherwise the task runs and its outcome is
appended. Timers store their due time, so they fire at the original time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from podium.secrets import Redactor
from podium.store.base import JournalEntry, Store

COMPLETED, FAULTED, STARTED, RETRIED, TIMER = (
    "task.completed", "task.faulted", "task.started", "task.retried", "timer",
)


class Parked(BaseException):
    """Unwinds an instance out of memory: a long timer (``wake_at``) or a suspension.

    A ``BaseException`` so that no ``except Exception`` on the way (a fork
    branch, a library) mistakes it for a failure."""

    def __init__(self, status: str, wake_at: datetime | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.wake_at = wake_at


class Journal:
    """The journal of one instance: what is recorded, and recording more."""

    __slots__ = (
        "_history", "_outcomes", "_timers", "enabled", "instance_id", "redactor", "store",
        "worker",
    )

    def __init__(
        self,
        instance_id: str,
        store: Store | None = None,
        worker: str | None = None,
        entries: Iterable[JournalEntry] = (),
    ) -> None:
        self.instance_id = instance_id
        self.store = store
        self.worker = worker
        self.enabled = store is not None
        # Fed with the instance's secret values as it reads them: what is
        # stored never holds one (ARCHITECTURE "Durability": secrets never enter).
        self.redactor = Redactor()
        self._outcomes: dict[str, JournalEntry] = {}
        self._timers: dict[str, datetime] = {}
        # History lines that need no durability of their own ride along with
        # the next durable append.
        self._history: list[JournalEntry] = []
        for entry in entries:
            if entry.kind in (COMPLETED, FAULTED):
                self._outcomes[entry.position] = entry
            elif entry.kind == TIMER:
                self._timers[entry.position] = datetime.fromisoformat(entry.data["due"])

    @property
    def replaying(self) -> bool:
        """True when the instance ran before (its journal has outcomes or timers)."""
        return bool(self._outcomes or self._timers)

    def outcome(self, position: str) -> JournalEntry | None:
        return self._outcomes.get(position)

    def timer(self, position: str) -> datetime | None:
        return self._timers.get(position)

    def note(self, position: str, kind: str, data: Any) -> None:
        """Add a history line, made durable with the next ``record``."""
        if self.enabled:
            self._history.append(self._entry(position, kind, data))

    async def record(self, position: str, kind: str, data: Any) -> None:
        """Append durably: returns once the store has committed it."""
        if self.store is None:
            return
        entry = self._entry(position, kind, data)
        batch, self._history = [*self._history, entry], []
        await self.store.append(batch)
        if kind in (COMPLETED, FAULTED):
            self._outcomes[position] = entry
        elif kind == TIMER:
            self._timers[position] = datetime.fromisoformat(data["due"])

    async def flush(self) -> None:
        if self.store is not None and self._history:
            batch, self._history = self._history, []
            await self.store.append(batch)

    def _entry(self, position: str, kind: str, data: Any) -> JournalEntry:
        return JournalEntry(
            instance_id=self.instance_id,
            position=position,
            kind=kind,
            at=datetime.now(UTC),
            data=self.redactor.redact(data),
            worker=self.worker,
        )
