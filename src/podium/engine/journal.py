"""Replay or record: the one place where task outcomes meet the store.

Every task outcome is journaled before the next task starts. When an
instance runs again (after a crash, a parked timer or a resume), each task
first looks its position up: a recorded outcome is returned as it was,
without running the task again; otherwise the task runs and its outcome is
appended. Timers store their due time, so they fire at the original time.

Secret values are journaled as references and resolved again when the journal
is read for replay (``secret_refs``): a replayed task gets exactly the data of
the original run, and no secret is stored in clear.
"""

from __future__ import annotations

import asyncio
import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from podium.engine.errors import AUTHORIZATION, RUNTIME, WorkflowError
from podium.engine.secret_refs import (
    MARKER,
    MalformedReference,
    SecretReferences,
    SecretUnavailable,
    resolve,
)
from podium.limits import MAX_HISTORY_ENTRIES
from podium.secrets import Redactor
from podium.store._dialect import dump_json
from podium.store.base import RESUMED, JournalEntry, Serialized, Store, StoreError
from podium.store.base import RETRIED as INSTANCE_RETRIED

COMPLETED, FAULTED, STARTED, RETRIED, TIMER = (
    "task.completed", "task.faulted", "task.started", "task.retried", "timer",
)
# Effects a task records on its way, before its outcome: an event a listener was
# delivered (consumed or skipped), an event an instance emitted (the outbox).
EVENT_RECEIVED, EVENT_EMITTED = "event.received", "event.emitted"
# The last line of the journal a re-run from a task starts with (``podium.recovery``):
# the copied prefix of the original's journal ends there.
RERUN = "instance.rerun"
_REPLAYED = (COMPLETED, FAULTED, TIMER, EVENT_RECEIVED, EVENT_EMITTED)

# What follows a position in the positions of the tasks nested in it (an
# iteration ``[3]``, an attempt ``@1``, a segment ``/do``, a timeout ``#timeout``,
# an extension ``+/use/...``); ``~`` (a later visit) names a sibling instead.
_NESTED = "#+/@["


# The message a host cancels an instance's task with when it stops the instance to
# be run elsewhere (a shutdown, a lost lease): no cancellation of the workflow, so
# nothing announces one (``released``).
RELEASED = "podium: released to run elsewhere"


def released(stop: asyncio.CancelledError) -> bool:
    """Whether ``stop`` leaves the instance to another run rather than cancelling it."""
    return RELEASED in stop.args


class Parked(BaseException):
    """Unwinds an instance out of memory: a long timer (``wake_at``) or a suspension.

    A ``BaseException`` so that no ``except Exception`` on the way (a fork
    branch, a library) mistakes it for a failure."""

    def __init__(self, status: str, wake_at: datetime | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.wake_at = wake_at


class JournalHalt(BaseException):
    """The journal cannot record any more: the instance stops at once, past every
    ``try`` and ``catch`` (a ``BaseException``, like ``Parked``); its host
    (``podium.worker.run_durable``) decides how it ends."""


class HistoryFull(JournalHalt):
    """The instance's history reached ``Journal.limit`` entries: it faults with
    ``error``. Not catchable by the workflow: a ``try`` that caught it and looped
    would spin for ever without recording anything."""

    def __init__(self, error: WorkflowError, position: str) -> None:
        super().__init__(error.detail)
        self.error = error
        self.position = position


class JournalUnavailable(JournalHalt):
    """The store failed to record an outcome: the instance stops here, unended,
    and resumes by replay once the store works again (never a fault of the
    workflow's own making)."""

    def __init__(self, cause: StoreError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Journal:
    """The journal of one instance: what is recorded, and recording more."""

    __slots__ = (
        "_ahead", "_ahead_left", "_count", "_effects", "_history", "_loaded", "_outcomes",
        "_secrets", "_started", "_stored", "_timers", "enabled", "instance_id", "redactor",
        "references", "resumed", "retried_at", "store", "suspended", "worker",
    )

    # Entries one instance may record (README "Limits"); a class attribute so that
    # a host (or a test) may lower it.
    limit = MAX_HISTORY_ENTRIES

    def __init__(
        self,
        instance_id: str,
        store: Store | None = None,
        worker: str | None = None,
        entries: Iterable[JournalEntry] = (),
        secrets: Mapping[str, Any] | None = None,
        resumed: bool = False,
    ) -> None:
        self.instance_id = instance_id
        # The instance ran before (its start is on record): it announces no new start.
        self.resumed = resumed
        self.store = store
        self.worker = worker
        self.enabled = store is not None
        # Fed with the instance's secret values as it reads them (``remember``):
        # what is stored holds references instead (ARCHITECTURE "Durability":
        # secrets never enter), and what leaves the instance holds ``***``.
        self.redactor = Redactor()
        self.references = SecretReferences()
        # Where references are resolved on replay: the runtime's current sources.
        self._secrets = secrets
        self._outcomes: dict[str, JournalEntry] = {}
        self._timers: dict[str, datetime] = {}
        self._effects: dict[str, Any] = {}
        # Entries read from the store, resolved when replay first asks for them:
        # a secret that is gone then faults the task that needs it, not the load.
        self._stored: dict[str, JournalEntry] = {}
        # History lines that need no durability of their own ride along with
        # the next durable append.
        self._history: list[JournalEntry] = []
        # Positions whose start is on record: a task resumed after a park or a
        # crash is the same execution, not a second start.
        self._started: set[str] = set()
        self._count = 0  # entries in the store: loaded, then appended (voided ones too)
        entries_read = list(entries)
        self._count = len(entries_read)
        # A faulted instance an operator retried: the faults its last run ended
        # with are void, so that run goes again from the task that faulted.
        voided = retry_voids(entries_read)
        if voided:
            entries_read = [e for i, e in enumerate(entries_read) if i not in voided]
        # The workflow's timeout counts from the last retry (a new attempt has
        # the whole time again), else from the instance's first start.
        self.retried_at = next((e.at for e in reversed(entries_read)
                                if e.kind == INSTANCE_RETRIED), None)
        for entry in entries_read:
            if entry.kind in _REPLAYED:
                self._stored[_key(entry.kind, entry.position)] = entry
            elif entry.kind == STARTED:
                self._started.add(entry.position)
        self._loaded = self._count
        # Where an earlier run got to: the positions of its recorded starts,
        # outcomes and timers that this run has not passed yet, sorted so that the
        # positions nested in one are a range.
        self._ahead = sorted({
            entry.position for entry in entries_read
            if entry.kind in (COMPLETED, FAULTED, STARTED, TIMER)
        })
        self._ahead_left = set(self._ahead)
        # The instance was suspended, and this run is its resumption: the resume
        # is the last line of its history.
        self.suspended = bool(entries_read) and entries_read[-1].kind == RESUMED
        # A re-run whose copied journal nobody has run yet: its first run starts it.
        if entries_read and entries_read[-1].kind == RERUN:
            self.resumed = False

    @property
    def appended(self) -> int:
        """Entries this process recorded: more than none is progress."""
        return self._count - self._loaded

    @property
    def catching_up(self) -> bool:
        """True until this run reaches where an earlier run of the instance got to
        (every start, outcome and timer that run recorded is passed): the instance
        goes again over positions it already passed and announced, so what it
        recomputes there (a task skipped by ``if``) is not news."""
        return bool(self._ahead_left)

    def started(self, position: str) -> bool:
        """Whether the start of the task at ``position`` is on record (this run's
        or an earlier one's): resuming it is the same execution, not a new one."""
        if position in self._started:
            self._ahead_left.discard(position)
            return True
        return False

    def outcome(self, position: str) -> JournalEntry | None:
        found = self._outcomes.get(position)
        if found is None:
            stored = self._stored.pop(_key(COMPLETED, position), None)
            if stored is not None:
                found = self._outcomes[position] = self._resolved(stored)
                self._passed(position)
        return found

    def _passed(self, position: str) -> None:
        """The outcome at ``position`` is known (replayed or recorded anew): it is
        no longer ahead, and neither are the positions nested in it, which
        replaying it skips (a composite task's) or recording it left behind."""
        left = self._ahead_left
        if not left:
            return
        left.discard(position)
        positions = self._ahead
        for separator in _NESTED:
            prefix = position + separator
            index = bisect.bisect_left(positions, prefix)
            while index < len(positions) and positions[index].startswith(prefix):
                left.discard(positions[index])
                index += 1

    def timer(self, position: str) -> datetime | None:
        found = self._timers.get(position)
        if found is None:
            stored = self._stored.pop(_key(TIMER, position), None)
            if stored is not None:
                due = self._resolved(stored).data["due"]
                found = self._timers[position] = datetime.fromisoformat(due)
                self._ahead_left.discard(position)
        return found

    def effect(self, kind: str, position: str) -> Any:
        """The data of an effect recorded at ``position`` (``EVENT_RECEIVED``,
        ``EVENT_EMITTED``), or None."""
        key = _key(kind, position)
        found = self._effects.get(key)
        if found is None:
            stored = self._stored.pop(key, None)
            if stored is not None:
                found = self._effects[key] = self._resolved(stored).data
        return found

    def remember(self, name: str, value: Any) -> None:
        """A secret the instance holds from now on: journaled as references to
        ``name``, redacted from whatever leaves the instance."""
        self.redactor.add(value)
        self.references.add(name, value)
        shared = getattr(self._secrets, "redactor", None)
        if isinstance(shared, Redactor):  # the runtime's, for lifecycle events
            shared.add(value)

    def _secret(self, name: str) -> Any:
        value = self._secrets.get(name) if self._secrets is not None else None
        if value is None:
            raise SecretUnavailable(name)
        self.remember(name, value)
        return value

    def resolve(self, data: Any, what: str, where: str | None = None) -> Any:
        """Stored ``data`` (``what`` names it in errors) with its secret references
        resolved; the secrets it holds are remembered like those the instance reads."""
        try:
            return resolve(data, self._secret)
        except SecretUnavailable as missing:
            raise WorkflowError(
                AUTHORIZATION,
                detail=f"secret '{missing.name}' is needed to replay {what}, but "
                       f"{missing.reason}",
                instance=where,
            ) from None
        except MalformedReference as exc:
            raise WorkflowError.runtime(
                f"{what} of instance {self.instance_id} is corrupt: {exc}", where
            ) from None

    def _resolved(self, entry: JournalEntry) -> JournalEntry:
        """A stored entry with its secret references resolved."""
        task = entry.data.get("task") if isinstance(entry.data, dict) else None
        where = task if isinstance(task, str) and task.startswith("/") else entry.position
        what = {TIMER: "the recorded timer of this task",
                EVENT_RECEIVED: "an event this task received",
                EVENT_EMITTED: "the event this task emitted"}.get(
            entry.kind, "the recorded outcome of this task")
        return replace(entry, data=self.resolve(entry.data, what, where))

    def note(self, position: str, kind: str, data: Any) -> None:
        """Add a history line, made durable with the next ``record``."""
        if not self.enabled:
            return
        if kind == STARTED:
            if position in self._started:
                return
            self._started.add(position)
        self._history.append(self._entry(position, kind, data))

    async def record(self, position: str, kind: str, data: Any) -> None:
        """Append durably: returns once the store has committed it."""
        if self.store is None:
            return
        entry = self._entry(position, kind, data)
        batch, self._history = [*self._history, entry], []
        await self._append(batch, data)
        if kind in (COMPLETED, FAULTED):
            # What replay in this process gets back: the data itself.
            self._outcomes[position] = JournalEntry(
                self.instance_id, position, kind, entry.at, data, self.worker
            )
            self._passed(position)
        elif kind == TIMER:
            self._timers[position] = datetime.fromisoformat(data["due"])
        elif kind in _REPLAYED:
            self._effects[_key(kind, position)] = data

    async def flush(self) -> None:
        if self.store is not None and self._history:
            batch, self._history = self._history, []
            await self._append(batch, None)

    async def _append(self, batch: list[JournalEntry], data: Any) -> None:
        assert self.store is not None
        task = data.get("task") if isinstance(data, dict) else None
        if self._count + len(batch) > self.limit:
            raise HistoryFull(WorkflowError(
                RUNTIME,
                title="History Limit Reached",
                detail=f"the instance's history reached {self.limit:,} entries, the most one"
                " instance may record; a workflow that loops without end stops here"
                " (continue the work in a new instance)",
                instance=task,
            ), batch[-1].position)
        try:
            await self.store.append(batch)
        except StoreError as exc:
            raise JournalUnavailable(exc) from exc
        except (TypeError, ValueError) as exc:
            # Refused before it was queued (not JSON, or larger than the store takes):
            # this task's outcome cannot be kept, so the task faults.
            raise WorkflowError.runtime(f"the task's outcome cannot be recorded: {exc}",
                                        task) from None
        self._count += len(batch)

    def _entry(self, position: str, kind: str, data: Any) -> JournalEntry:
        return JournalEntry(
            instance_id=self.instance_id,
            position=position,
            kind=kind,
            at=datetime.now(UTC),
            data=_Stored(data, self.references),
            worker=self.worker,
        )


class _Stored(Serialized):
    """Journaled data, serialized when the store writes it: secret values as
    references, strings that begin with the marker escaped (``secret_refs``).
    Serializing first makes the common case one pass: an instance that read no
    secret and whose text holds no marker is written as it is."""

    __slots__ = ("data", "references")

    def __init__(self, data: Any, references: SecretReferences) -> None:
        self.data = data
        self.references = references

    def to_json(self) -> str:
        text = dump_json(self.data)
        if self.references or MARKER in text:
            encoded = self.references.encode(self.data)
            if encoded is not self.data:
                text = dump_json(encoded)
        return text


def _key(kind: str, position: str) -> str:
    # Outcomes, timers and effects share positions (a wait's timer and its outcome).
    return f"{'outcome' if kind in (COMPLETED, FAULTED) else kind} {position}"


# The attempt of a ``try`` task in a position (``/do/1/charge@0/try/...``): the
# text before it is the try's position, then its attempt number.
_TRY_ATTEMPT = re.compile(r"@(\d+)/try/")


def retry_voids(entries: Sequence[JournalEntry]) -> set[int]:
    """The indexes of ``entries`` that an operator's retry of a faulted instance
    voids: for each retry (an ``instance.retried`` line after a fault), the faults
    its run ended with, from the top-level task down to the task that raised, with
    their starts and their task timeouts' timers. Replay then runs again exactly
    the tasks that faulted: what completed is replayed, as is every fault a
    ``try`` caught (retried, or handled by ``catch.do``). A retry after a
    quarantine (the run crashed, nothing faulted) voids nothing."""
    voided: set[int] = set()
    for marker, entry in enumerate(entries):
        if entry.kind == INSTANCE_RETRIED and isinstance(entry.data, dict) \
                and entry.data.get("after") == "fault":
            voided |= _failure_path(entries, marker, voided)
    return voided


def failure_path(entries: Sequence[JournalEntry]) -> set[str]:
    """The positions of the faults a retry of this (faulted) instance would void."""
    voided = retry_voids(entries)
    return {entries[i].position for i in _failure_path(entries, len(entries), voided)
            if entries[i].kind == FAULTED}


def _failure_path(entries: Sequence[JournalEntry], end: int, voided: set[int]) -> set[int]:
    before = [(i, e) for i, e in enumerate(entries[:end]) if i not in voided]
    faults = [(i, e) for i, e in before if e.kind == FAULTED]
    if not faults or not _top_level(faults[-1][1].position):
        return set()  # not ended by a task's fault (a timeout, an internal error)
    root = faults[-1][1].position
    positions = [e.position for _, e in before]
    completed = [e.position for _, e in before if e.kind == COMPLETED and within(e.position, root)]
    path = {
        e.position for _, e in faults
        if within(e.position, root)
        and not any(within(e.position, done) for done in completed)
        and not _caught(e.position, positions)
    }
    timeouts = {f"{position}#timeout" for position in path}
    return {i for i, e in before
            if (e.position in path and e.kind in (FAULTED, STARTED))
            or (e.kind == TIMER and e.position in timeouts)}


def _top_level(position: str) -> bool:
    """A task of the workflow's own ``do`` list: ``/do/<i>/<name>`` (or a later visit)."""
    parts = position.split("/")
    return len(parts) == 4 and parts[1] == "do" and not any(c in parts[3] for c in "#+@[")


def within(position: str, outer: str) -> bool:
    """``position`` is ``outer`` or a position nested in it."""
    return position == outer or (
        position.startswith(outer) and position[len(outer)] in _NESTED
    )


def _caught(position: str, positions: Sequence[str]) -> bool:
    """A fault inside a ``try`` attempt that the try went on from: it retried
    (its retry timer is on record) or ran ``catch.do``."""
    for match in _TRY_ATTEMPT.finditer(position):
        attempt = position[: match.start()] + f"@{match.group(1)}"
        retry, handler = f"{attempt}/retry", f"{attempt}/catch/"
        if any(p == retry or p.startswith(handler) for p in positions):
            return True
    return False
