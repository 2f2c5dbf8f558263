"""``podium run --verbose``: task lifecycle events rendered as they happen."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.text import Text

from podium.cli._output import printable
from podium.engine.lifecycle import CloudEvent

_MARKS = {
    "completed": ("✓ ", "green"),
    "skipped": ("↷ ", "dim"),
    "faulted": ("✗ ", "red"),
    "cancelled": ("■ ", "yellow"),
    "retried": ("↻ ", "yellow"),
}

_WORKFLOW_PHASES = ("workflow.started", "workflow.completed", "workflow.faulted",
                    "workflow.cancelled")


class Progress:
    """A lifecycle listener printing one line per task start and end."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started: dict[str, float] = {}

    def __call__(self, event: CloudEvent) -> None:
        kind = event["type"].removeprefix("io.serverlessworkflow.").removesuffix(".v1")
        data = event.get("data") or {}
        if kind.startswith("task."):
            self._task(kind.removeprefix("task."), data)
        elif kind in _WORKFLOW_PHASES:
            self._console.print(Text(printable(f"workflow {data.get('name', '')} "
                                               f"{kind.removeprefix('workflow.')}"),
                                     style="bold"))

    def _task(self, phase: str, data: dict[str, Any]) -> None:
        task = printable(str(data.get("task", "?")))
        if phase == "started":
            self._started[task] = time.perf_counter()
            self._console.print(Text.assemble(("▶ ", "blue"), task))
            return
        if phase not in _MARKS:
            return  # created, status-changed, ...: noise at this level
        began = self._started.pop(task, None) if phase != "retried" else None
        if phase == "completed" and began is None:
            phase = "skipped"  # `if` was false: completed without starting
        elapsed = f" ({(time.perf_counter() - began) * 1000:.1f} ms)" if began else ""
        suffix = ""
        if phase == "faulted":
            error = data.get("error") or {}
            suffix = printable(f": {error.get('title') or error.get('type', '')}")
        self._console.print(Text.assemble(_MARKS[phase], f"{task} {phase}{elapsed}{suffix}"))
