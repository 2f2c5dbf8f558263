"""`do`: run subtasks in sequence (dsl-reference "Do")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.state import TaskRun


async def execute(task: m.DoTask, run: TaskRun) -> Any:
    output, run.ended = await runner.run_child(run, task.do, "do", run.input, run.locals)
    return output
