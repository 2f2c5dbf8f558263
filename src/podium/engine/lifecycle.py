"""Lifecycle CloudEvents (dsl.md "Lifecycle Events", dsl-reference "Lifecycle Events").

Events are plain dicts in the CloudEvents JSON (structured) form. They go to
in-process listeners; the operator's sinks (HTTP, NATS: ``podium.events.sinks``)
are listeners too.

Replay. An instance that runs again (after a park, a crash, a suspension) is
replayed from its journal; what its earlier runs announced is not announced
again, whatever the number of runs:

- ``workflow.started`` once, when the instance first runs; a resumed run
  announces ``workflow.status-changed`` to ``running`` (``workflow.resumed``
  when it was suspended), and the status changes it goes through from there.
- A task whose outcome is journaled is replayed silently: no ``created``,
  ``started``, ``completed``, ``faulted`` or ``retried`` again.
- A task whose start is journaled (a ``wait`` that parked, a composite task
  whose nested tasks ran) goes on without a second ``created``/``started``; it
  announces how it ends, once. A retry whose delay is journaled is not
  announced again either.
- A task skipped by ``if`` records nothing: it is silent while the run catches
  up (``Journal.catching_up``: until the run has passed every start, outcome and
  timer the earlier runs recorded), announced once it is past them.
- A durable instance suspended at a task's start parks before announcing it;
  the run that resumes it announces the task.

Only what is journaled is known: what a process announced and then died before
recording (a task in flight, a task skipped after the last journaled entry) is
announced again by the run that recovers it.

Cost. Events are built only for the listeners there are, and only of the types
some listener needs: a listener marked with ``only(types, listener)`` (metrics
need a task's start and end, not its ``created`` or ``status-changed``) spares
the others being built at all.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

CloudEvent = dict[str, Any]
Listener = Callable[[CloudEvent], None]

WORKFLOW = "io.serverlessworkflow.workflow."
TASK = "io.serverlessworkflow.task."
SOURCE = "urn:podium:runtime"


def utc_iso(moment: datetime) -> str:
    """``2026-01-02T03:04:05.678Z``: how times are written for people and programs."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The current second, formatted once: formatting a datetime costs more than
# building the rest of an event.
_SECOND: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """``utc_iso`` of now."""
    global _SECOND
    now = time.time()
    second = int(now)
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"


# Event ids: UUID-shaped, unique per process by a counter, across processes by a
# random prefix (74 random bits); a fresh uuid4 each (os.urandom) costs more
# than the rest of an event.
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count()


def event_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


def cloud_event(
    event_type: str, data: dict[str, Any], subject: str | None = None, time: str | None = None
) -> CloudEvent:
    event: CloudEvent = {
        "specversion": "1.0",
        "id": event_id(),
        "source": SOURCE,
        "type": event_type,
        "time": time or now_iso(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject is not None:
        event["subject"] = subject
    return event


class _Only:
    """A listener that needs events of some types only (see ``only``)."""

    __slots__ = ("listener", "types")

    def __init__(self, types: Iterable[str], listener: Listener) -> None:
        self.types = frozenset(types)
        self.listener = listener

    def __call__(self, event: CloudEvent) -> None:
        self.listener(event)


def only(types: Iterable[str], listener: Listener) -> Listener:
    """``listener``, marked as needing events of these ``types`` only: an event of
    another type is not built for it (it may still receive one that another
    listener needs, and ignores it)."""
    return _Only(types, listener)


def _wanted(listeners: list[Listener]) -> frozenset[str] | None:
    """The types some listener needs; None: every type."""
    types: set[str] = set()
    for listener in listeners:
        if not isinstance(listener, _Only):
            return None
        types |= listener.types
    return frozenset(types)


WORKFLOW_STATUS = f"{WORKFLOW}status-changed.v1"
TASK_STATUS = f"{TASK}status-changed.v1"


class Lifecycle:
    """Publishes the workflow's and its tasks' lifecycle events to listeners."""

    __slots__ = ("_listeners", "_wanted", "enabled", "workflow")

    def __init__(self, listeners: list[Listener], workflow: str) -> None:
        # Called as they are, without the mark of what they need (one call less).
        self._listeners = [one.listener if isinstance(one, _Only) else one for one in listeners]
        self.enabled = bool(listeners)
        self._wanted = _wanted(listeners) if listeners else frozenset()
        self.workflow = workflow

    def _needed(self, event_type: str) -> bool:
        return self._wanted is None or event_type in self._wanted

    def _publish(self, event: CloudEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def workflow_event(self, phase: str, at_key: str, status: str | None, **extra: Any) -> None:
        """``phase`` is the event name (``started``, ``completed``, ...); ``status`` the new
        status phase, announced with a ``status-changed`` event too."""
        if not self.enabled:
            return
        event_type = f"{WORKFLOW}{phase}.v1"
        needed = self._needed(event_type)
        if not needed and (status is None or not self._needed(WORKFLOW_STATUS)):
            return
        at = now_iso()
        if needed:
            self._publish(cloud_event(
                event_type, {"name": self.workflow, at_key: at, **extra}, self.workflow, at
            ))
        if status is not None:
            self.workflow_status(status, at)

    def task_event(
        self, phase: str, at_key: str, task: str, status: str | None, **extra: Any
    ) -> None:
        if not self.enabled:
            return
        event_type = f"{TASK}{phase}.v1"
        needed = self._needed(event_type)
        if not needed and (status is None or not self._needed(TASK_STATUS)):
            return
        at = now_iso()
        if needed:
            self._publish(cloud_event(
                event_type, {"workflow": self.workflow, "task": task, at_key: at, **extra},
                self.workflow, at,
            ))
        if status is not None:
            self.task_status(task, status, at)

    def task_status(self, task: str, status: str, at: str | None = None) -> None:
        """The optional ``task.status-changed`` event (the others imply a status)."""
        if self.enabled and self._needed(TASK_STATUS):
            at = at or now_iso()
            self._publish(cloud_event(
                TASK_STATUS,
                {"workflow": self.workflow, "task": task, "updatedAt": at, "status": status},
                self.workflow, at,
            ))

    def workflow_status(self, status: str, at: str | None = None) -> None:
        if self.enabled and self._needed(WORKFLOW_STATUS):
            at = at or now_iso()
            self._publish(cloud_event(
                WORKFLOW_STATUS, {"name": self.workflow, "updatedAt": at, "status": status},
                self.workflow, at,
            ))
