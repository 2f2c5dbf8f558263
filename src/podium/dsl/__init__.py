"""The language: load a document, check it, and hand the engine a typed model."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from podium.dsl import model
from podium.dsl._salvage import salvage
from podium.dsl.checks import check
from podium.dsl.loader import (
    InvalidWorkflowError,
    Pointer,
    Problem,
    Source,
    read_source,
    to_pointer,
)
from podium.dsl.model import TAG, TASK_KEYS, Workflow

__all__ = ["Definition", "InvalidWorkflowError", "Problem", "load", "model", "validate"]


@dataclass(frozen=True)
class Definition:
    """A loaded, checked workflow definition."""

    model: Workflow
    raw: dict[str, Any]
    source: str
    # The texts of the file resources it names, read when it was deployed
    # ({reference as written: text}); empty until then (podium.resources).
    resources: Mapping[str, str] = field(default_factory=dict)

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


_TYPE_MESSAGES = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be a boolean",
    "list_type": "must be a list",
}


# Keys a task may have besides its kind: never a misspelt kind.
_TASK_PROPERTIES = {
    "if", "input", "output", "export", "timeout", "then", "metadata", "with", "catch", "while",
    "foreach",
}


def _message(item: ErrorDetails, path: Pointer) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return f"unknown property '{path[-1]}'"
    if kind == "missing":
        return f"missing required property '{path[-1]}'"
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind == "too_short" and item.get("ctx", {}).get("min_length") == 1:
        return "must not be empty"
    if kind == "task" and isinstance(item["input"], dict):
        return _not_a_task(item["input"])
    message = item["msg"].removeprefix("Value error, ")
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    return message


def _not_a_task(value: dict[str, Any]) -> str:
    keys = ", ".join(TASK_KEYS)
    for key in value:
        if key in _TASK_PROPERTIES:
            continue
        close = difflib.get_close_matches(str(key), TASK_KEYS, n=1)
        if close:
            return f"not a task: unknown kind '{key}' (did you mean '{close[0]}'?)"
    return f"not a task: expected one of the keys {keys}"


def _error_path(item: ErrorDetails) -> Pointer:
    return tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith(TAG)))


def _pydantic_problems(error: ValidationError, source: Source) -> list[Problem]:
    found = dict.fromkeys(
        (path, _message(item, path))
        for item in error.errors(include_url=False)
        for path in [_error_path(item)]
    )
    return [source.problem(path, message) for path, message in _merge_typos(list(found))]


def _merge_typos(found: list[tuple[Pointer, str]]) -> list[tuple[Pointer, str]]:
    """A misspelt required property is one mistake: report the unknown name with
    the missing one it resembles, not two problems."""
    missing: dict[Pointer, list[str]] = {}  # parent -> its missing properties
    for path, message in found:
        if path and message.startswith("missing required"):
            missing.setdefault(path[:-1], []).append(str(path[-1]))
    merged: set[Pointer] = set()
    named: list[tuple[Pointer, str]] = []
    for path, message in found:
        if path and message.startswith("unknown property"):
            siblings = missing.get(path[:-1], [])
            close = difflib.get_close_matches(str(path[-1]), siblings, n=1)
            if close:
                merged.add((*path[:-1], close[0]))
                message += f" (did you mean '{close[0]}'?)"
        named.append((path, message))
    return [(path, message) for path, message in named if path not in merged]


def _validate_source(source: Source) -> tuple[Workflow | None, list[Problem]]:
    if source.data is None:
        return None, [source.problem((), "the document is empty")]
    if not isinstance(source.data, dict):
        text = str(source.data)
        found = "a list" if isinstance(source.data, list) else (
            f"'{text}'" if len(text) <= 40 else f"'{text[:40]}...'"
        )
        return None, [source.problem((), f"a workflow document must be a mapping, not {found}")]
    try:
        workflow = Workflow.model_validate(source.data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, source)
        problems += _checks_despite(exc, source)
        return None, _in_document_order(list(dict.fromkeys(problems)))
    return workflow, _in_document_order(check(workflow, source))


# Rounds of replacing refused parts: a parent's own validators run only once its
# children validate, so a second round may find what the first masked.
_SALVAGE_ROUNDS = 4


def _checks_despite(error: ValidationError, source: Source) -> list[Problem]:
    """The problems the model's errors hid: the static checks of every part that
    validates, and model errors masked by others (see ``_salvage``)."""
    replaced: set[Pointer] = set()
    data: dict[str, Any] | None = source.data
    found: list[Problem] = []
    for _ in range(_SALVAGE_ROUNDS):
        assert data is not None
        data = salvage(data, [_error_path(item) for item in error.errors()], replaced)
        if data is None:
            break
        try:
            workflow = Workflow.model_validate(data)
        except ValidationError as exc:
            error = exc
            found += _pydantic_problems(exc, source)
            continue
        pointers = {to_pointer(path) for path in replaced}
        found += [
            problem for problem in check(workflow, source)
            if not _under(problem.pointer, pointers)
        ]
        break
    return found


def _in_document_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column))


def _under(pointer: str, pointers: set[str]) -> bool:
    """Whether ``pointer`` is one of ``pointers`` or below one."""
    parts = pointer.split("/")
    return any("/".join(parts[:end]) in pointers for end in range(2, len(parts) + 1))


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
