"""The run of an instance, and the task, that the code running now belongs to.

Lifecycle events say what happened; what observes the engine from outside
(``podium.telemetry``: metrics, spans, log fields) also needs to know to which
run of which definition, and to which execution of a task (its position, its
kind), it happened, and when that run leaves this process. ``execute`` sets
``CURRENT_RUN`` for the run's duration (tasks started inside it, fork branches
included, see the same run) and calls ``on_exit`` when the run is over, however
it ends: completed, faulted, cancelled, parked out of memory, or stopped by a
failing store. ``run_task`` sets ``CURRENT_TASK`` while a task runs, nested
tasks inside it. The engine itself knows no metrics or tracing library
(ARCHITECTURE "Surfaces").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.engine.state import Instance, TaskRun

log = logging.getLogger("podium.engine")


@dataclass(eq=False, slots=True)
class Run:
    """One run of an instance in this process (a resumed one replays its journal)."""

    instance: Instance
    resumed: bool
    # An unexpected exception ended it (engine.execution.internal_error).
    internal_error: bool = False
    # What observers keep about this run, each under a key of its own.
    notes: dict[Any, Any] = field(default_factory=dict)
    # Called once the run is over, in the context it ran in.
    on_exit: list[Callable[[], None]] = field(default_factory=list)

    def exited(self) -> None:
        for hook in self.on_exit:
            try:
                hook()
            except Exception:  # an observer's bug must not change how the run ended
                log.exception("an observer of instance %s failed at its end", self.instance.id)


CURRENT_RUN: ContextVar[Run | None] = ContextVar("podium_run", default=None)
CURRENT_TASK: ContextVar[TaskRun | None] = ContextVar("podium_task", default=None)

# The instance (id, ``namespace/name``) a host works on outside its runs (a worker
# claiming, resuming, recording an end): log lines name it (podium.telemetry.logs).
WORKING_ON: ContextVar[tuple[str, str] | None] = ContextVar("podium_working_on", default=None)
