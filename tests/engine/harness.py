"""Running small inline workflow documents in tests of the engine and the task kinds."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from podium import Execution, Runtime, WorkflowError

ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"
TASK = "io.serverlessworkflow.task."
WORKFLOW = "io.serverlessworkflow.workflow."


def workflow(body: str, name: str = "test") -> str:
    """A complete document: the standard ``document`` header plus ``body`` (YAML)."""
    header = (
        "document:\n"
        "  dsl: '1.0.3'\n"
        "  namespace: test\n"
        f"  name: {name}\n"
        "  version: '0.1.0'\n"
    )
    return header + textwrap.dedent(body)


@asynccontextmanager
async def runtime(**options: Any) -> AsyncIterator[Runtime]:
    """A ``Runtime`` whose HTTP client skips TLS setup: these tests only reach
    local plain-HTTP services, and the default TLS context costs ~45 ms a runtime."""
    async with (
        httpx.AsyncClient(verify=False) as client,
        Runtime(http_client=client, **options) as rt,
    ):
        yield rt


async def run(body: str, input: Any = None, **options: Any) -> Any:
    """Run ``body`` (the document without its header) and return the output."""
    async with runtime(**options) as rt:
        return await rt.run(workflow(body), input)


async def fault(body: str, input: Any = None, **options: Any) -> WorkflowError:
    """Run ``body``, which must fault, and return the error."""
    async with runtime(**options) as rt:
        execution = await rt.execute(workflow(body), input)
    assert execution.status == "faulted", execution
    assert isinstance(execution.error, WorkflowError)
    return execution.error


async def execute(
    body: str, input: Any = None, **options: Any
) -> tuple[Execution, list[dict[str, Any]]]:
    """Run ``body`` and return how it ended with every lifecycle event published."""
    events: list[dict[str, Any]] = []
    async with runtime(listeners=[events.append], **options) as rt:
        execution = await rt.execute(workflow(body), input)
    return execution, events


def problem(error: dict[str, Any]) -> dict[str, Any]:
    """The members of a problem-details object that are set: a runtime may give
    an absent member as null or leave it out."""
    return {key: value for key, value in error.items() if value is not None}


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events of one lifecycle type, named without prefix: ``task.retried``."""
    return [e for e in events if e["type"] == f"io.serverlessworkflow.{kind}.v1"]
