"""The language: load a document, check it, and hand the engine a typed model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from podium.dsl import model
from podium.dsl.checks import check
from podium.dsl.loader import InvalidWorkflowError, Pointer, Problem, Source, read_source
from podium.dsl.model import TAG, Workflow

__all__ = ["Definition", "InvalidWorkflowError", "Problem", "load", "model", "validate"]


@dataclass(frozen=True)
class Definition:
    """A loaded, checked workflow definition."""

    model: Workflow
    raw: dict[str, Any]
    source: str

    @property
    def namespace(self) -> str:
        return self.model.document.namespace

    @property
    def name(self) -> str:
        return self.model.document.name

    @property
    def version(self) -> str:
        return self.model.document.version

    @property
    def qualified_name(self) -> str:
        return f"{self.name}.{self.namespace}:{self.version}"


def _pydantic_problems(error: ValidationError, source: Source) -> list[Problem]:
    problems = []
    seen = set()
    for item in error.errors(include_url=False):
        path: Pointer = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and p.startswith(TAG))
        )
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if item["type"] == "extra_forbidden":
            message = f"unknown property '{path[-1]}'"
        elif item["type"] == "missing":
            message = f"missing required property '{path[-1]}'"
        key = (path, message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(source.problem(path, message))
    return problems


def _validate_source(source: Source) -> tuple[Workflow | None, list[Problem]]:
    if not isinstance(source.data, dict):
        return None, [source.problem((), "a workflow document must be a mapping")]
    try:
        workflow = Workflow.model_validate(source.data)
    except ValidationError as exc:
        return None, _pydantic_problems(exc, source)
    return workflow, check(workflow, source)


def validate(source: str | Path | Mapping[str, Any], name: str | None = None) -> list[Problem]:
    """Every problem of a document (empty when it is valid)."""
    try:
        parsed = read_source(source, name)
    except InvalidWorkflowError as exc:
        return exc.problems
    return _validate_source(parsed)[1]


def load(source: str | Path | Mapping[str, Any], name: str | None = None) -> Definition:
    """Parse, validate and check a workflow; raise ``InvalidWorkflowError`` listing
    every problem otherwise."""
    parsed = read_source(source, name)
    workflow, problems = _validate_source(parsed)
    if problems or workflow is None:
        raise InvalidWorkflowError(problems)
    return Definition(workflow, parsed.data, parsed.name)
