"""Lifecycle CloudEvents (dsl.md "Lifecycle Events", dsl-reference "Lifecycle Events").

Events are plain dicts in the CloudEvents JSON (structured) form. They go to
in-process listeners; sinks (HTTP, NATS, ...) subscribe as listeners.
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


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
