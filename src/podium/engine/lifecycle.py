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
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
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


def now_iso() -> str:
    return utc_iso(datetime.now(UTC))


def cloud_event(event_type: str, data: dict[str, Any], subject: str | None = None) -> CloudEvent:
    event: CloudEvent = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": event_type,
        "time": now_iso(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject is not None:
        event["subject"] = subject
    return event


class Lifecycle:
    """Publishes the workflow's and its tasks' lifecycle events to listeners."""

    __slots__ = ("_listeners", "enabled", "workflow")

    def __init__(self, listeners: list[Listener], workflow: str) -> None:
        self._listeners = listeners
        self.enabled = bool(listeners)
        self.workflow = workflow

    def _publish(self, event: CloudEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def workflow_event(self, phase: str, at_key: str, status: str | None, **extra: Any) -> None:
        """``phase`` is the event name (``started``, ``completed``, ...); ``status`` the new
        status phase, announced with a ``status-changed`` event too."""
        if not self.enabled:
            return
        at = now_iso()
        self._publish(cloud_event(
            f"{WORKFLOW}{phase}.v1", {"name": self.workflow, at_key: at, **extra}, self.workflow
        ))
        if status is not None:
            self.workflow_status(status, at)

    def task_event(
        self, phase: str, at_key: str, task: str, status: str | None, **extra: Any
    ) -> None:
        if not self.enabled:
            return
        at = now_iso()
        self._publish(cloud_event(
            f"{TASK}{phase}.v1", {"workflow": self.workflow, "task": task, at_key: at, **extra},
            self.workflow,
        ))
        if status is not None:
            self.task_status(task, status, at)

    def task_status(self, task: str, status: str, at: str | None = None) -> None:
        """The optional ``task.status-changed`` event (the others imply a status)."""
        if self.enabled:
            self._publish(cloud_event(
                f"{TASK}status-changed.v1",
                {"workflow": self.workflow, "task": task, "updatedAt": at or now_iso(),
                 "status": status},
                self.workflow,
            ))

    def workflow_status(self, status: str, at: str | None = None) -> None:
        if self.enabled:
            self._publish(cloud_event(
                f"{WORKFLOW}status-changed.v1",
                {"name": self.workflow, "updatedAt": at or now_iso(), "status": status},
                self.workflow,
            ))
