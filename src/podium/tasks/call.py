"""`call`: dispatch to the protocol module of ``calls/`` (dsl-reference "Call")."""

from __future__ import annotations

from typing import Any

from podium.calls import http
from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


async def execute(task: Any, run: TaskRun) -> Any:
    if isinstance(task, m.CallHTTP):
        return await http.execute(task.with_, run)
    raise WorkflowError.runtime(
        f"task kind 'call: {task.call}' is not supported yet by this Podium version",
        run.reference,
    )
