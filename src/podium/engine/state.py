"""The state of one execution: the instance, each running task, and the
runtime expression arguments they expose (dsl.md "Runtime expression arguments")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.dsl import Definition
from podium.dsl.model import AnyTask, Extension
from podium.engine.errors import AUTHORIZATION, WorkflowError
from podium.engine.journal import Journal
from podium.engine.lifecycle import Lifecycle
from podium.engine.schemas import SchemaCache
from podium.expressions import Evaluator

if TYPE_CHECKING:
    from podium.engine.services import Services


def datetime_descriptor(moment: datetime) -> dict[str, Any]:
    """dsl.md "DateTime Descriptor"."""
    millis = int(moment.timestamp() * 1000)
    return {
        "iso8601": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epoch": {"seconds": millis // 1000, "milliseconds": millis},
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class Instance:
    """One execution of a workflow definition."""

    id: str
    definition: Definition
    services: Services
    raw_input: Any
    evaluator: Evaluator
    lifecycle: Lifecycle
    schemas: SchemaCache
    started_at: datetime = field(default_factory=utcnow)
    # When it was recorded (None: when it started); the W3C traceparent of
    # whoever started it (podium.tracecontext), for its runs' spans.
    created_at: datetime | None = None
    trace_parent: str | None = None
    context: Any = None
    status: str = "pending"
    input: Any = None
    # Set while the instance may run; cleared while it is suspended.
    running: asyncio.Event = field(default_factory=asyncio.Event)
    extensions: list[tuple[str, Extension]] = field(default_factory=list)
    waits: int = 0  # wait tasks waiting for time right now
    sleeping: int = 0  # durable timers being awaited right now (waits, retry delays)
    # `listen` tasks started in this run and not closed: each may have left a subscription.
    listening: int = 0
    journal: Journal = field(default_factory=lambda: Journal(""))
    # Durable runs leave memory when suspended, and when a timer is further
    # away than this many seconds (None: stay in memory).
    unload_when_suspended: bool = False
    park_after: float | None = None
    # When the timeouts running right now (the workflow's, tasks') expire: a
    # parked timer must wake the instance by the earliest of them.
    deadlines: list[datetime] = field(default_factory=list)
    # When the instance last yielded to the event loop between tasks (monotonic).
    yielded_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.running.set()
        use = self.definition.model.use
        for index, item in enumerate((use and use.extensions) or []):
            name, extension = next(iter(item.items()))
            self.extensions.append((f"/use/extensions/{index}/{name}", extension))

    def suspend(self) -> None:
        """Hold the instance at the start of its next task (dsl.md "suspended")."""
        if self.status in ("running", "waiting"):
            self.running.clear()
            self.status = "suspended"
            self.lifecycle.workflow_event("suspended", "suspendedAt", "suspended")

    def resume(self) -> None:
        if self.status == "suspended":
            self.status = "waiting" if self.waits else "running"
            self.lifecycle.workflow_event("resumed", "resumedAt", "running")
            self.running.set()

    def workflow_descriptor(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "definition": self.definition.raw,
            "input": self.raw_input,
            "startedAt": datetime_descriptor(self.started_at),
        }

    def secrets(self) -> dict[str, Any]:
        """The secrets the workflow declares in ``use.secrets`` (dsl.md "Secret")."""
        declared = (self.definition.model.use and self.definition.model.use.secrets) or []
        values = {}
        for name in declared:
            value = self.services.secrets.get(name)
            if value is None:
                raise WorkflowError(
                    AUTHORIZATION,
                    detail=f"secret '{name}' is declared by the workflow but not available",
                )
            values[name] = value
        # Whatever holds these values from now on must not be recorded as is:
        # the journal stores references to them, events and errors ``***``.
        for name, value in values.items():
            self.journal.remember(name, value)
        shared = getattr(self.services.secrets, "redactor", None)
        if shared is not None:
            shared.add(values)
        return values


# Which arguments each kind of expression sees (dsl.md, the availability table).
STAGE_ARGUMENTS: dict[str, frozenset[str]] = {
    "workflow-input": frozenset({"secrets", "workflow", "runtime"}),
    "if": frozenset({"context", "secrets", "task", "workflow", "runtime"}),
    "input": frozenset({"context", "secrets", "task", "workflow", "runtime"}),
    "task": frozenset(
        {"context", "input", "secrets", "task", "workflow", "runtime", "authorization"}
    ),
    "output": frozenset(
        {"context", "input", "secrets", "task", "workflow", "runtime", "authorization"}
    ),
    "export": frozenset(
        {"context", "input", "output", "secrets", "task", "workflow", "runtime", "authorization"}
    ),
    "workflow-output": frozenset({"context", "secrets", "workflow", "runtime"}),
}


class TaskRun:
    """One execution of one task (an attempt, an iteration, a branch)."""

    __slots__ = (
        "authorization",
        "directive",
        "ended",
        "input",
        "instance",
        "locals",
        "name",
        "output",
        "position",
        "raw_input",
        "raw_output",
        "reference",
        "resumed",
        "started_at",
        "task",
    )

    def __init__(
        self,
        instance: Instance,
        name: str,
        task: AnyTask,
        reference: str,
        position: str,
        raw_input: Any,
        local_vars: Mapping[str, Any],
    ) -> None:
        self.instance = instance
        self.name = name
        self.task = task
        self.reference = reference
        self.position = position
        self.raw_input = raw_input
        self.locals = local_vars
        self.input: Any = None
        self.raw_output: Any = None
        self.output: Any = None
        self.started_at = utcnow()
        self.authorization: dict[str, Any] | None = None
        # Set by a task kind: a flow directive chosen at run time (switch), or
        # ``ended`` when a nested scope ran into ``then: end``.
        self.directive: str | None = None
        self.ended = False
        # Its start is on record from an earlier run (a park, a crash): it goes on,
        # and what it announced then is not announced again.
        self.resumed = False

    def descriptor(self) -> dict[str, Any]:
        """dsl.md "Task Descriptor"."""
        return {
            "name": self.name,
            "reference": self.reference,
            "definition": self.task.model_dump(by_alias=True, exclude_unset=True),
            "input": self.raw_input,
            "output": self.raw_output,
            "startedAt": datetime_descriptor(self.started_at),
        }

    def scoped(self, local_vars: Mapping[str, Any], data: Any = None) -> TaskRun:
        """The same task seen with other local variables (a ``for`` item, a caught
        error) and, optionally, other current data."""
        other = TaskRun(self.instance, self.name, self.task, self.reference, self.position,
                        self.raw_input, local_vars)
        other.input = self.input if data is None else data
        return other

    def variables(self, stage: str) -> Arguments:
        return Arguments(self.instance, self, stage)

    # Helpers for task kinds: each returns the evaluator's coroutine, to be awaited
    # (one coroutine frame less on the hot path than `async def` wrappers).

    def template(self, value: Any, data: Any | None = None) -> Coroutine[Any, Any, Any]:
        """Evaluate the expressions in a task argument against the transformed input."""
        return self.instance.evaluator.template(
            value, self.input if data is None else data, self.variables("task"), self.reference
        )

    def expression(self, text: str, data: Any | None = None) -> Coroutine[Any, Any, Any]:
        return self.instance.evaluator.expression(
            text, self.input if data is None else data, self.variables("task"), self.reference
        )

    def condition(self, text: str, data: Any | None = None) -> Coroutine[Any, Any, bool]:
        return self.instance.evaluator.condition(
            text, self.input if data is None else data, self.variables("task"), self.reference
        )


class Arguments(Mapping[str, Any]):
    """The ``$name`` arguments of one expression, computed only when used."""

    __slots__ = ("instance", "run", "stage")

    def __init__(self, instance: Instance, run: TaskRun | None, stage: str) -> None:
        self.instance = instance
        self.run = run
        self.stage = stage

    def __getitem__(self, name: str) -> Any:
        run = self.run
        if run is not None and name in run.locals:
            return run.locals[name]
        if name not in STAGE_ARGUMENTS[self.stage]:
            raise KeyError(name)
        instance = self.instance
        if name == "context":
            return instance.context
        if name == "workflow":
            return instance.workflow_descriptor()
        if name == "runtime":
            return instance.services.runtime_descriptor
        if name == "secrets":
            return instance.secrets()
        if run is None:  # pragma: no cover - the table gives workflow stages none of these
            raise KeyError(name)
        if name == "input":
            return run.input
        if name == "output":
            return run.output
        if name == "task":
            return run.descriptor()
        if name == "authorization":
            return run.authorization
        raise KeyError(name)  # pragma: no cover

    def __iter__(self) -> Iterator[str]:
        yield from STAGE_ARGUMENTS[self.stage]
        if self.run is not None:
            yield from self.run.locals

    def __len__(self) -> int:
        return len(STAGE_ARGUMENTS[self.stage]) + (len(self.run.locals) if self.run else 0)
