"""The workflow document: its header, ``use``, schedule, evaluation settings,
and the Workflow itself."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from podium.dsl.model.auth import AuthenticationPolicy
from podium.dsl.model.base import (
    Duration,
    Model,
    Name,
    OpenModel,
    SemVer,
    Timeout,
    TimeoutOrName,
    _one_named,
)
from podium.dsl.model.dataflow import Input, Output
from podium.dsl.model.errors import Error, RetryPolicy
from podium.dsl.model.events import ScheduleOn
from podium.dsl.model.resources import Catalog
from podium.dsl.model.tasks import Task, TaskList


class Document(Model):
    dsl: SemVer
    namespace: Name
    name: Name
    version: SemVer
    title: str | None = None
    summary: str | None = None
    tags: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class Extension(Model):
    extend: Literal["call", "composite", "emit", "for", "listen", "raise", "run", "set", "switch",
                    "try", "wait", "all"]
    when: str | None = None
    before: TaskList | None = None
    after: TaskList | None = None


class Use(Model):
    authentications: dict[str, AuthenticationPolicy] | None = None
    errors: dict[str, Error] | None = None
    extensions: list[Annotated[dict[str, Extension], _one_named("extension")]] | None = None
    functions: dict[str, Task] | None = None
    retries: dict[str, RetryPolicy] | None = None
    secrets: list[str] | None = None
    timeouts: dict[str, Timeout] | None = None
    catalogs: dict[str, Catalog] | None = None


class Schedule(Model):
    every: Duration | None = None
    cron: str | None = None
    after: Duration | None = None
    on: ScheduleOn | None = None


class Evaluate(Model):
    language: str = "jq"
    mode: Literal["strict", "loose"] = "strict"


class Workflow(OpenModel):
    document: Document
    input: Input | None = None
    use: Use | None = None
    do: TaskList
    timeout: TimeoutOrName | None = None
    output: Output | None = None
    schedule: Schedule | None = None
    evaluate: Evaluate | None = None
