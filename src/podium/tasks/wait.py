"""`wait`: pause for a duration (dsl-reference "Wait")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.state import TaskRun


async def execute(task: m.WaitTask, run: TaskRun) -> Any:
    seconds = await runner.duration_seconds(task.wait, run, run.instance, run.reference, "wait")
    instance = run.instance
    # dsl.md "Status Phases": a task waiting for time is `waiting`, and so is the
    # workflow while any of its tasks waits (fork branches may wait together).
    instance.waits += 1
    if instance.waits == 1 and instance.status == "running":
        instance.status = "waiting"
        instance.lifecycle.workflow_status("waiting")
    if instance.journal.timer(run.position) is None:  # else resumed: announced before
        instance.lifecycle.task_status(run.reference, "waiting")
    try:
        await runner.sleep(run, run.position, seconds)
    finally:
        instance.waits -= 1
    if instance.waits == 0 and instance.status == "waiting":  # not suspended meanwhile
        instance.status = "running"
        instance.lifecycle.workflow_status("running")
    instance.lifecycle.task_status(run.reference, "running")
    return run.input
