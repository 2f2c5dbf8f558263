"""`switch`: the first case whose `when` holds chooses the flow directive; the
case without `when` is the default (dsl-reference "Switch", "Switch Case")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine.state import TaskRun


async def execute(task: m.SwitchTask, run: TaskRun) -> Any:
    default: str | None = None
    for item in task.switch:
        case = next(iter(item.values()))
        if case.when is None:
            default = case.then
        elif await run.condition(case.when):
            run.directive = case.then
            return run.input
    # No match and no default: the switch falls through to the task's own `then`.
    run.directive = default
    return run.input
