"""Running small inline workflow documents in tests of the engine and the task kinds."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from podium import Execution, Runtime, WorkflowError
from podium.events.bus import EventBus

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


async def run(body: str, input: Any = None, **runtime: Any) -> Any:  # noqa: A002
    """Run ``body`` (the document without its header) and return the output."""
    async with Runtime(**runtime) as rt:
        return await rt.run(workflow(body), input)


async def fault(body: str, input: Any = None, **runtime: Any) -> WorkflowError:  # noqa: A002
    """Run ``body``, which must fault, and return the error."""
    async with Runtime(**runtime) as rt:
        execution = await rt.execute(workflow(body), input)
    assert execution.status == "faulted", execution
    assert isinstance(execution.error, WorkflowError)
    return execution.error


async def execute(
    body: str,
    input: Any = None,  # noqa: A002
    *,
    secrets: Mapping[str, Any] | None = None,
    bus: EventBus | None = None,
) -> tuple[Execution, list[dict[str, Any]]]:
    """Run ``body`` and return how it ended with every lifecycle event published."""
    events: list[dict[str, Any]] = []
    async with Runtime(listeners=[events.append], secrets=secrets, bus=bus) as rt:
        execution = await rt.execute(workflow(body), input)
    return execution, events


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The events of one lifecycle type, given without prefix: ``task.retried``."""
    return [e for e in events if e["type"] == f"io.serverlessworkflow.{kind}.v1"]
