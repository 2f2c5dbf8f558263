"""`emit`: build a CloudEvent and publish it; the task's output is the event
(dsl-reference "Emit", "Event Properties").

The journal is the outbox: the event, with its id, is recorded before it is
published, and a replay publishes the recorded event again (a worker that died
in between delivers it on its return); the inbox stores one event per
source+id, so a second publish is kept once. Where the spec requires them but
the document leaves them out, the runtime supplies ``id`` (a ULID) and
``source`` (a URI naming the instance); ``time`` is now and
``datacontenttype`` ``application/json`` when there is data.
"""

from __future__ import annotations

from typing import Any

from ulid import ULID

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.journal import EVENT_EMITTED
from podium.engine.lifecycle import now_iso
from podium.engine.state import Instance, TaskRun
from podium.events.cloudevents import InvalidEvent, validate


def instance_source(instance: Instance) -> str:
    """The ``source`` of events an instance emits without one: a URI naming it."""
    document = instance.definition.model.document
    return f"urn:podium:{document.namespace}:{document.name}:{instance.id}"


async def execute(task: m.EmitTask, run: TaskRun) -> Any:
    instance = run.instance
    journal = instance.journal
    recorded = journal.effect(EVENT_EMITTED, run.position) if journal.enabled else None
    if recorded is not None:
        event: dict[str, Any] = recorded["event"]
    else:
        event = await _build(task, run)
        await journal.record(run.position, EVENT_EMITTED, {"task": run.reference,
                                                           "event": event})
    host = instance.services.host
    if host is None:  # pragma: no cover - every Runtime is a host
        raise WorkflowError.configuration("emit needs a host", run.reference)
    await host.publish(instance, event)
    return event


async def _build(task: m.EmitTask, run: TaskRun) -> dict[str, Any]:
    properties = task.emit.event.with_
    attributes = properties.model_dump(exclude_none=True) if properties is not None else {}
    event: dict[str, Any] = await run.template(attributes)
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise WorkflowError.validation(
            "the emitted event's 'type' must be a non-empty string", run.reference
        )
    event.setdefault("source", instance_source(run.instance))
    event.setdefault("id", str(ULID()))
    event.setdefault("time", now_iso())
    event["specversion"] = "1.0"
    if "data" in event and "datacontenttype" not in event:
        event["datacontenttype"] = "application/json"
    try:
        return validate(event)
    except InvalidEvent as exc:
        raise WorkflowError.validation(
            f"the emitted event is not a valid CloudEvent: {exc}", run.reference
        ) from None
