"""`run`: start a process (dsl-reference "Run"); one module per process kind."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.processes.workflow import execute_workflow


async def execute(task: m.RunTask, run: TaskRun) -> Any:
    config = task.run
    if config.workflow is not None:
        return await execute_workflow(config.workflow, config.await_, run)
    kind = next(k for k in ("container", "script", "shell") if getattr(config, k) is not None)
    raise WorkflowError.runtime(
        f"task kind 'run: {kind}' is not supported yet by this Podium version", run.reference
    )
