"""`run: workflow`: a subflow from the registry (dsl-reference "Workflow Process").

With ``await: true`` the parent task's output is the subflow's output and a
faulted subflow faults the task with the subflow's error. With ``await: false``
the subflow is started and the task completes at once with its input.

With a store, the child instance is recorded with the idempotency key
``<parent id>:<task position>``, so a parent that replays after a crash finds
its child instead of starting a second one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from podium.dsl import model as m
from podium.engine import execution as executions
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun

if TYPE_CHECKING:
    from podium.engine.execution import Execution
    from podium.engine.state import Instance
    from podium.runtime import Runtime
    from podium.store.base import InstanceRecord

# How often a parent looks at a child that another worker runs.
POLL_SECONDS = 0.2

_background: set[asyncio.Task[Any]] = set()


async def execute_workflow(process: m.WorkflowProcess, awaited: bool, run: TaskRun) -> Any:
    runtime = run.instance.services.runtime
    if runtime is None:  # pragma: no cover - every Runtime sets itself
        raise WorkflowError.configuration("subflows need a runtime", run.reference)
    try:
        definition = await runtime.registry.get(process.namespace, process.name, process.version)
    except WorkflowError as error:
        error.instance = run.reference
        raise
    data = await run.template(process.input) if process.input is not None else run.input

    if runtime.store is None:
        child = runtime.instance(definition, data, f"{run.instance.id}.{len(_background)}")
        if not awaited:
            task = asyncio.ensure_future(executions.execute(child))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return run.input
        return _outcome(await executions.execute(child), run)

    key = f"{run.instance.id}:{run.position}"
    record, created = await runtime.create_instance(
        definition, data, key=key, owned=awaited, parent=(run.instance.id, run.position),
        # Secrets the parent passes are stored as references, as in its journal.
        references=run.instance.journal.references,
    )
    if not awaited:
        return run.input
    if created:
        child = await runtime.resume_instance(record, definition, fresh=True)
        execution = await _run_child(runtime, run, child, record)
        if execution.status in ("completed", "faulted", "cancelled"):
            return _outcome(execution, run)
        # The child left memory without ending (it was suspended on its own):
        # once resumed, any worker may claim it. The parent waits for its end,
        # as a replaying parent does, rather than faulting.
    # The child exists: this parent is replaying. Wait for whoever runs it.
    store = runtime._store()
    while True:
        current = await store.get_instance(record.id)
        if current is None:
            raise WorkflowError.runtime(f"subflow instance {record.id} vanished", run.reference)
        if current.status in ("completed", "faulted", "cancelled"):
            problem = WorkflowError.from_dict(current.error) if current.error else None
            ended = executions.Execution(current.id, current.status, current.output, problem)
            return _outcome(ended, run)
        await asyncio.sleep(POLL_SECONDS)


async def _run_child(
    runtime: Runtime, run: TaskRun, child: Instance, record: InstanceRecord
) -> Execution:
    """Run an awaited child here, in a task of its own: the lease keeper cancels
    the task holding an instance, so a cancel request for the child must stop
    the child only (its parent's task then faults, as it does when it finds the
    child cancelled on replay). A parent that is stopped stops its child too:
    released along with it, or cancelled."""
    from podium.worker import keeper, run_durable

    task = asyncio.ensure_future(run_durable(runtime, child, record))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is None or not current.cancelling():
            return executions.Execution(child.id, "cancelled")  # the child alone
        held = keeper(runtime).held
        parent, theirs = held.get(run.instance.id), held.get(child.id)
        if parent is not None and theirs is not None and parent.releasing:
            theirs.releasing = True
        task.cancel()
        await asyncio.wait([task])
        raise


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
