"""`wait`: pause for a duration (dsl-reference "Wait")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.state import TaskRun


async def execute(task: m.WaitTask, run: TaskRun) -> Any:
    seconds = await runner.duration_seconds(task.wait, run, run.instance, run.reference, "wait")
    # Resumed (its timer on record): its waiting was announced by the earlier run.
    announced = run.instance.journal.timer(run.position) is not None
    with runner.waiting(run, announced=announced):
        await runner.sleep(run, run.position, seconds)
    return run.input
