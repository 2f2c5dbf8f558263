"""`wait`: pause for a duration (dsl-reference "Wait")."""

from __future__ import annotations

import asyncio
from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.state import TaskRun


async def execute(task: m.WaitTask, run: TaskRun) -> Any:
    seconds = runner.duration_seconds(task.wait, run, run.instance, run.reference)
    instance = run.instance
    instance.status = "waiting"
    instance.lifecycle.task_event("status-changed", "updatedAt", run.reference, None,
                                  status="waiting")
    try:
        await asyncio.sleep(seconds)
    finally:
        instance.status = "running"
    return run.input
