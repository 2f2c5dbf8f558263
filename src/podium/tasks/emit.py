"""`emit`: build a CloudEvent and publish it on the event bus; the task's output
is the event (dsl-reference "Emit", "Event Properties")."""

from __future__ import annotations

from typing import Any

from ulid import ULID

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.lifecycle import now_iso
from podium.engine.state import TaskRun

_REQUIRED = ("source", "type")


async def execute(task: m.EmitTask, run: TaskRun) -> Any:
    properties = task.emit.event.with_
    attributes = properties.model_dump(exclude_none=True) if properties is not None else {}
    event: dict[str, Any] = await run.template(attributes)
    for name in _REQUIRED:
        if not isinstance(event.get(name), str) or not event[name]:
            raise WorkflowError.validation(
                f"the emitted event's '{name}' must be a non-empty string", run.reference
            )
    event.setdefault("id", str(ULID()))
    event.setdefault("time", now_iso())
    event["specversion"] = "1.0"
    if "data" in event and "datacontenttype" not in event:
        event["datacontenttype"] = "application/json"
    await run.instance.services.bus.publish(event)
    return event
