"""The Python API: start, suspend, resume, cancel, and the public names."""

from __future__ import annotations

import asyncio
from typing import Any

import podium
from podium import Runtime

WAITING = """
document: {dsl: '1.0.3', namespace: test, name: control, version: '1.0.0'}
do:
  - first: {set: {step: 1}}
  - pause: {wait: {milliseconds: 150}}
  - second: {set: {step: 2}}
"""


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("io.serverlessworkflow.") for e in events]


def test_public_api_is_locked() -> None:
    assert sorted(podium.__all__) == [
        "Definition", "Execution", "Handle", "InvalidWorkflowError", "Problem", "Runtime",
        "WorkflowError", "__version__", "load", "validate",
    ]


async def test_suspended_execution_holds_the_next_task_until_resumed() -> None:
    events: list[dict[str, Any]] = []
    async with Runtime(listeners=[events.append]) as runtime:
        handle = await runtime.start(WAITING)
        await asyncio.sleep(0.05)  # inside the wait
        handle.suspend()
        assert handle.status == "suspended"
        await asyncio.sleep(0.3)  # the wait is over, `second` must not have started
        started = [e["data"]["task"] for e in events if e["type"].endswith("task.started.v1")]
        assert started == ["/do/0/first", "/do/1/pause"]
        handle.resume()
        execution = await handle.result()
    assert (execution.status, execution.output) == ("completed", {"step": 2})
    sequence = types(events)
    assert "workflow.suspended.v1" in sequence
    assert sequence.index("task.suspended.v1") < sequence.index("workflow.resumed.v1")
    assert sequence.index("workflow.resumed.v1") < sequence.index("task.resumed.v1")
    suspended = next(e for e in events if e["type"].endswith("task.suspended.v1"))
    assert suspended["data"]["task"] == "/do/2/second"


async def test_cancel_interrupts_the_running_task_and_runs_no_more() -> None:
    events: list[dict[str, Any]] = []
    async with Runtime(listeners=[events.append]) as runtime:
        handle = await runtime.start(WAITING.replace("milliseconds: 150", "seconds: 30"))
        await asyncio.sleep(0.05)
        handle.cancel()
        execution = await asyncio.wait_for(handle.result(), 5)
    assert execution.status == "cancelled"
    sequence = types(events)
    assert "task.cancelled.v1" in sequence and sequence[-2:] == [
        "workflow.cancelled.v1", "workflow.status-changed.v1"
    ]
    assert not any(e["data"].get("task") == "/do/2/second" for e in events)
