"""`run: workflow`: a subflow from the registry (dsl-reference "Workflow Process").

With ``await: true`` the parent task's output is the subflow's output and a
faulted subflow faults the task with the subflow's error. With ``await: false``
the subflow is started and the task completes at once with its input.

Starting the child is the host's work (``engine.host.Host.start_workflow``):
with a store it records the child with the idempotency key
``<parent id>:<task position>``, so a parent that replays after a crash finds
its child instead of starting a second one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun

if TYPE_CHECKING:
    from podium.engine.execution import Execution


async def execute_workflow(process: m.WorkflowProcess, awaited: bool, run: TaskRun) -> Any:
    host = run.instance.services.host
    if host is None:  # pragma: no cover - every Runtime sets itself
        raise WorkflowError.configuration("subflows need a runtime", run.reference)
    data = await run.template(process.input) if process.input is not None else run.input
    try:
        execution = await host.start_workflow(
            run.instance, run.position, process.namespace, process.name, process.version,
            data, await_=awaited,
        )
    except WorkflowError as error:
        # The host names no task (a workflow that is not deployed): this one asked.
        if error.instance is None:
            error.instance = run.reference
        raise
    if execution is None:
        return run.input
    return _outcome(execution, run)


def _outcome(execution: Execution, run: TaskRun) -> Any:
    if execution.status == "completed":
        return execution.output
    if execution.error is not None:
        error = execution.error
        raise WorkflowError(
            error.type, error.status, error.title,
            f"subflow {execution.id} faulted at {error.instance}: {error.detail or error.title}",
            run.reference,
        )
    raise WorkflowError.runtime(
        f"subflow {execution.id} ended as {execution.status}", run.reference
    )
