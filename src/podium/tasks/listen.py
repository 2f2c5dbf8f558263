"""`listen`: not available in this version (the events issue brings it)."""

from __future__ import annotations

from typing import NoReturn

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


async def execute(task: m.ListenTask, run: TaskRun) -> NoReturn:
    raise WorkflowError.runtime(
        "task kind 'listen' is not supported yet by this Podium version", run.reference
    )
