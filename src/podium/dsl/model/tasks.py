"""The task kinds other than ``call``, the Task union that tells them apart
by their key, and TaskList, the list of named tasks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from podium.dsl.model import events
from podium.dsl.model.base import (
    OBJECT,
    STRING,
    TAG,
    Duration,
    Model,
    OpenModel,
    _one_named,
    _one_of,
    _string_or_object,
)
from podium.dsl.model.calls import (
    CallA2A,
    CallAsyncAPI,
    CallFunction,
    CallGRPC,
    CallHTTP,
    CallMCP,
    CallOpenAPI,
    CallTask,
)
from podium.dsl.model.dataflow import TaskBase
from podium.dsl.model.errors import Error, ErrorFilter, RetryPolicy
from podium.dsl.model.events import EventConsumptionStrategy, EventProperties, SubscriptionIterator
from podium.dsl.model.resources import ExternalResource


class DoTask(TaskBase):
    do: TaskList


class ForkConfig(Model):
    branches: TaskList
    compete: bool = False


class ForkTask(TaskBase):
    fork: ForkConfig


class EmitEvent(OpenModel):
    with_: EventProperties | None = Field(default=None, alias="with")

    @field_validator("with_")
    @classmethod
    def _required(cls, value: EventProperties | None) -> EventProperties | None:
        # The schema also requires `source`; Podium supplies one naming the instance
        # when it is left out (tasks/emit.py), as the events issue asks.
        if value is not None and value.type is None:
            raise ValueError("an emitted event needs a 'type'")
        return value


class EmitConfig(Model):
    event: EmitEvent


class EmitTask(TaskBase):
    emit: EmitConfig


class ForConfig(Model):
    each: str = "item"
    in_: str = Field(alias="in")
    at: str = "index"


class ForTask(TaskBase):
    for_: ForConfig = Field(alias="for")
    while_: str | None = Field(default=None, alias="while")
    do: TaskList


class ListenConfig(Model):
    to: EventConsumptionStrategy
    read: Literal["data", "envelope", "raw"] = "data"


class ListenTask(TaskBase):
    listen: ListenConfig
    foreach: SubscriptionIterator | None = None


class RaiseConfig(Model):
    error: Annotated[
        Annotated[Error, OBJECT] | Annotated[str, STRING],
        _string_or_object("an error (an object with 'type' and 'status') or the name of one "
                          "in use.errors"),
    ]


class RaiseTask(TaskBase):
    raise_: RaiseConfig = Field(alias="raise")


class ContainerLifetime(Model):
    cleanup: Literal["always", "never", "eventually"]
    after: Duration | None = None

    @model_validator(mode="after")
    def _after(self) -> ContainerLifetime:
        if (self.cleanup == "eventually") != (self.after is not None):
            raise ValueError("'after' is required with cleanup 'eventually', and only then")
        return self


class ContainerProcess(Model):
    image: str
    name: str | None = None
    command: str | None = None
    ports: dict[str, Any] | None = None
    volumes: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    stdin: str | None = None
    arguments: list[str] | None = None
    lifetime: ContainerLifetime | None = None
    pull_policy: Literal["ifNotPresent", "always", "never"] | None = Field(
        default=None, alias="pullPolicy"
    )


class ScriptProcess(Model):
    language: str
    code: str | None = None
    source: ExternalResource | None = None
    stdin: str | None = None
    arguments: list[str] | None = None
    environment: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ScriptProcess:
        _one_of(self, ("code", "source"), "a script")
        return self


class ShellProcess(Model):
    command: str
    stdin: str | None = None
    arguments: list[str] | None = None
    environment: dict[str, Any] | None = None


class WorkflowProcess(Model):
    namespace: str
    name: str
    # The schema requires it even though it documents a default of "latest".
    version: str
    input: dict[str, Any] | None = None


class RunConfig(Model):
    await_: bool = Field(default=True, alias="await")
    return_: Literal["stdout", "stderr", "code", "all", "none"] = Field(
        default="stdout", alias="return"
    )
    container: ContainerProcess | None = None
    script: ScriptProcess | None = None
    shell: ShellProcess | None = None
    workflow: WorkflowProcess | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RunConfig:
        _one_of(self, ("container", "script", "shell", "workflow"), "a run task")
        return self


class RunTask(TaskBase):
    run: RunConfig


class SetTask(TaskBase):
    set: Annotated[
        Annotated[dict[str, Any], Field(min_length=1), OBJECT] | Annotated[str, STRING],
        _string_or_object("a non-empty object or a runtime expression"),
    ]


class SwitchCase(Model):
    when: str | None = None
    then: str


class SwitchTask(TaskBase):
    switch: Annotated[
        list[Annotated[dict[str, SwitchCase], _one_named("case")]], Field(min_length=1)
    ]


class CatchErrors(OpenModel):
    with_: ErrorFilter | None = Field(default=None, alias="with")


class Catch(Model):
    errors: CatchErrors | None = None
    as_: str | None = Field(default=None, alias="as")
    when: str | None = None
    except_when: str | None = Field(default=None, alias="exceptWhen")
    retry: (
        Annotated[
            Annotated[RetryPolicy, OBJECT] | Annotated[str, STRING],
            _string_or_object("a retry policy or the name of one in use.retries"),
        ]
        | None
    ) = None
    do: TaskList | None = None


class TryTask(TaskBase):
    try_: TaskList = Field(alias="try")
    catch: Catch


class WaitTask(TaskBase):
    wait: Duration


# The order matters where keys overlap: a `for` task also has `do`, and a
# `listen` task may have `foreach`.
TASK_KEYS = ("call", "for", "fork", "emit", "listen", "raise", "run", "set", "switch", "try",
             "wait", "do")


def _task_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in TASK_KEYS:
            if key in value:
                return TAG + key
        return None
    kind = TASK_CLASSES_KIND.get(type(value))
    return None if kind is None else TAG + kind


Task = Annotated[
    Annotated[CallTask, Tag(TAG + "call")]
    | Annotated[DoTask, Tag(TAG + "do")]
    | Annotated[ForkTask, Tag(TAG + "fork")]
    | Annotated[EmitTask, Tag(TAG + "emit")]
    | Annotated[ForTask, Tag(TAG + "for")]
    | Annotated[ListenTask, Tag(TAG + "listen")]
    | Annotated[RaiseTask, Tag(TAG + "raise")]
    | Annotated[RunTask, Tag(TAG + "run")]
    | Annotated[SetTask, Tag(TAG + "set")]
    | Annotated[SwitchTask, Tag(TAG + "switch")]
    | Annotated[TryTask, Tag(TAG + "try")]
    | Annotated[WaitTask, Tag(TAG + "wait")],
    Discriminator(
        _task_kind,
        custom_error_type="task",
        custom_error_message="not a task: expected one of the keys " + ", ".join(TASK_KEYS),
    ),
]

TASK_CLASSES_KIND: dict[type, str] = {
    CallHTTP: "call", CallOpenAPI: "call", CallGRPC: "call", CallAsyncAPI: "call",
    CallA2A: "call", CallMCP: "call", CallFunction: "call", DoTask: "do", ForkTask: "fork",
    EmitTask: "emit", ForTask: "for", ListenTask: "listen", RaiseTask: "raise", RunTask: "run",
    SetTask: "set", SwitchTask: "switch", TryTask: "try", WaitTask: "wait",
}

AnyTask = (
    CallHTTP | CallOpenAPI | CallGRPC | CallAsyncAPI | CallA2A | CallMCP | CallFunction | DoTask
    | ForkTask | EmitTask | ForTask | ListenTask | RaiseTask | RunTask | SetTask | SwitchTask
    | TryTask | WaitTask
)


TaskList = list[Annotated[dict[str, Task], _one_named("task")]]


# TaskList closes the recursion. The models are built lazily (defer_build in
# base._CONFIG: building all of them costs more than a CLI start-up may), at their
# first validation, looking names up in their own module: SubscriptionIterator,
# in events, finds TaskList there once this line has run.
events.TaskList = TaskList  # type: ignore[attr-defined]
