"""`run`: not available in this version (processes come with a later release)."""

from __future__ import annotations

from typing import NoReturn

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


async def execute(task: m.RunTask, run: TaskRun) -> NoReturn:
    kind = next(k for k in ("container", "script", "shell", "workflow")
                if getattr(task.run, k) is not None)
    raise WorkflowError.runtime(
        f"task kind 'run: {kind}' is not supported yet by this Podium version", run.reference
    )
