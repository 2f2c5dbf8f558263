"""`call`: dispatch to the protocol module of ``calls/`` (dsl-reference "Call").

Protocol modules are imported when first used: optional dependencies (gRPC,
MCP, brokers) cost nothing to workflows that do not call them.
"""

from __future__ import annotations

import importlib
from typing import Any

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun

# Each module exports ``async def execute(task, run) -> raw output``.
_PROTOCOLS: dict[type, str] = {
    m.CallHTTP: "http",
    m.CallOpenAPI: "openapi",
    m.CallGRPC: "grpc",
    m.CallAsyncAPI: "asyncapi",
    m.CallA2A: "a2a",
    m.CallMCP: "mcp",
    m.CallFunction: "function",
}


async def execute(task: Any, run: TaskRun) -> Any:
    name = _PROTOCOLS[type(task)]
    try:
        module = importlib.import_module(f"podium.calls.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"podium.calls.{name}":
            raise WorkflowError.configuration(
                f"'call: {task.call}' needs the Python package '{exc.name}': "
                f"install podium with the matching extra",
                run.reference,
            ) from None
        raise WorkflowError.runtime(
            f"task kind 'call: {task.call}' is not supported yet by this Podium version",
            run.reference,
        ) from None
    return await module.execute(task, run)
