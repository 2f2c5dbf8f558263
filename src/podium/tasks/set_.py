"""`set`: the output is the given object or expression, evaluated (dsl-reference "Set")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine.state import TaskRun


async def execute(task: m.SetTask, run: TaskRun) -> Any:
    if isinstance(task.set, str):
        return await run.expression(task.set)
    return await run.template(task.set)
