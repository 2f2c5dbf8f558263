"""Task kinds: one module each, one ``async def execute(task, run)`` each.

Adding a kind is one module and one line in ``_KINDS``. The data flow around
a task (``if``, ``input``, ``output``, ``export``, ``timeout``) is the runner's,
never a kind's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.tasks import (
    call,
    do,
    emit,
    for_,
    fork,
    listen,
    raise_,
    run,
    set_,
    switch,
    try_,
    wait,
)

Executor = Callable[[Any, TaskRun], Awaitable[Any]]

_KINDS: dict[type, Executor] = {
    m.CallHTTP: call.execute,
    m.CallOpenAPI: call.execute,
    m.CallGRPC: call.execute,
    m.CallAsyncAPI: call.execute,
    m.CallA2A: call.execute,
    m.CallMCP: call.execute,
    m.CallFunction: call.execute,
    m.DoTask: do.execute,
    m.ForkTask: fork.execute,
    m.EmitTask: emit.execute,
    m.ForTask: for_.execute,
    m.ListenTask: listen.execute,
    m.RaiseTask: raise_.execute,
    m.RunTask: run.execute,
    m.SetTask: set_.execute,
    m.SwitchTask: switch.execute,
    m.TryTask: try_.execute,
    m.WaitTask: wait.execute,
}


async def execute_kind(task: m.AnyTask, run: TaskRun) -> Any:
    """Turn the transformed input into the raw output, by the task's kind."""
    executor = _KINDS.get(type(task))
    if executor is None:  # pragma: no cover - the model admits no other kind
        raise WorkflowError.runtime(f"unknown task kind {type(task).__name__}", run.reference)
    return await executor(task, run)
