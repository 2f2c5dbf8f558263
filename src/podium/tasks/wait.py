"""`wait`: pause for a duration (dsl-reference "Wait")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.state import TaskRun


async def execute(task: m.WaitTask, run: TaskRun) -> Any:
    seconds = await runner.duration_seconds(task.wait, run, run.instance, run.reference, "wait")
    # Resumed (its start on record, with its timer): the earlier run announced it.
    with runner.waiting(run, announced=run.resumed):
        await runner.sleep(run, run.position, seconds)
    return run.input
