"""`run`: start a process (dsl-reference "Run"); one module per process kind.

Shell, script and container processes run only when the operator enables
them (``--allow-run`` / ``PODIUM_ALLOW_RUN``); subflows always may.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from podium.dsl import model as m
from podium.engine.state import TaskRun
from podium.processes.container import execute_container
from podium.processes.script import execute_script
from podium.processes.shell import execute_shell
from podium.processes.workflow import execute_workflow

PROCESSES: dict[str, Callable[[m.RunConfig, TaskRun], Awaitable[Any]]] = {
    "container": execute_container,
    "script": execute_script,
    "shell": execute_shell,
}


async def execute(task: m.RunTask, run: TaskRun) -> Any:
    config = task.run
    if config.workflow is not None:
        return await execute_workflow(config.workflow, config.await_, run)
    kind = next(k for k in PROCESSES if getattr(config, k) is not None)
    return await PROCESSES[kind](config, run)
