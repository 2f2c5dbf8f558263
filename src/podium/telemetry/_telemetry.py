"""The lifecycle listener that turns a runtime's events into metrics, spans and
log lines (ARCHITECTURE "Surfaces": the engine knows none of them).

An event says what happened; ``podium.engine.scope`` says to which run and
which task execution: the listener is called inside the task that announces,
so ``CURRENT_TASK`` is that task's ``TaskRun`` (its position, its typed
definition, hence its kind). What the listener keeps about a run lives in the
run's ``notes`` and is dropped with it; its exit hook ends what is still open
(the spans of a run that parked or stopped). Per event: a dict look-up of its
type, and for the few types that count, a counter or two; nothing is queried,
serialized or formatted.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.engine.lifecycle import TASK, WORKFLOW, CloudEvent
from podium.engine.scope import CURRENT_RUN, CURRENT_TASK, Run
from podium.engine.state import TaskRun
from podium.store import StoreError
from podium.telemetry._kinds import kind_of
from podium.telemetry.metrics import Metrics
from podium.worker import INTERNAL_ERROR, STORE_ERROR, keeper

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from podium.runtime import Runtime
    from podium.telemetry.tracing import Tracing

log = logging.getLogger("podium.tasks")

_Handler = Callable[["_RunState", CloudEvent, "str | None"], None]
_attached: weakref.WeakKeyDictionary[Runtime, Telemetry] = weakref.WeakKeyDictionary()


@dataclass(eq=False, slots=True)
class _TaskMark:
    """A task execution that started in this run (not skipped, not resumed)."""

    began: float  # time.perf_counter()
    span: Any = None
    outer: Any = None  # the tracing context to go back to when it ends


@dataclass(eq=False, slots=True)
class _RunState:
    run: Run
    workflow: str  # namespace/name
    version: str
    first_task: bool  # the instance's first run, before its first task started
    tasks: dict[TaskRun, _TaskMark] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    span: Any = None
    outer: Any = None


class Telemetry:
    """Metrics (always), spans (given a tracer provider) and task log lines of
    one runtime::

        telemetry = Telemetry(tracer_provider=provider).attach(runtime)
        text = await telemetry.scrape()   # the Prometheus exposition

    ``attach`` makes it one of the runtime's lifecycle listeners and the
    receiver of its host's error reports; with tracing, it also instruments
    the runtime's HTTP client (``podium.telemetry.tracing``)."""

    # How long the store's count of active instances is reused between scrapes.
    COUNTS_TTL = 5.0

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.metrics = Metrics()
        self.tracing: Tracing | None = None
        if tracer_provider is not None:
            from podium.telemetry.tracing import Tracing

            self.tracing = Tracing(tracer_provider)
        self._runtime: Runtime | None = None
        self._counted_at = -math.inf
        self._failures = 0
        # The events it needs (the only ones built for it), each with its handler
        # and the status it ends in (None: it ends nothing).
        self._handlers: dict[str, tuple[_Handler, str | None]] = {
            # A run's first event (a replay announces no start, only `running`):
            # its span begins there, in the run's own context, not in a fork
            # branch's whose task happens to announce first.
            f"{WORKFLOW}status-changed.v1": (self._workflow_status, None),
            f"{WORKFLOW}started.v1": (self._workflow_started, None),
            f"{WORKFLOW}completed.v1": (self._workflow_ended, "completed"),
            f"{WORKFLOW}faulted.v1": (self._workflow_ended, "faulted"),
            f"{WORKFLOW}cancelled.v1": (self._workflow_ended, "cancelled"),
            f"{TASK}started.v1": (self._task_started, None),
            f"{TASK}completed.v1": (self._task_ended, "completed"),
            f"{TASK}faulted.v1": (self._task_ended, "faulted"),
            f"{TASK}cancelled.v1": (self._task_ended, "cancelled"),
            f"{TASK}retried.v1": (self._task_retried, None),
        }

    @classmethod
    def of(cls, runtime: Runtime) -> Telemetry:
        """The telemetry attached to ``runtime``; a new one (metrics only) if none is."""
        found = _attached.get(runtime)
        return found if found is not None else cls().attach(runtime)

    def attach(self, runtime: Runtime) -> Telemetry:
        """Observe ``runtime`` (before it runs instances: those it runs already are
        not seen). A runtime has one telemetry at most."""
        if _attached.get(runtime) is self:
            return self
        if runtime in _attached:
            raise ValueError("this runtime has its telemetry already (Telemetry.of)")
        _attached[runtime] = self
        self._runtime = runtime
        runtime.add_listener(self.listen, types=self._handlers)  # the events it counts
        runtime.report_error = self.metrics.engine_error
        held = keeper(runtime)
        self.metrics.gauges.leases = lambda: (len(held.held), held.failing_since is None)
        if self.tracing is not None:
            self.tracing.instrument(runtime.services.http)
        return self

    # scraping ----------------------------------------------------------------------------

    async def scrape(self) -> bytes:
        """The Prometheus text exposition, the store's counts refreshed if stale."""
        await self.refresh()
        return self.metrics.render()

    async def refresh(self) -> None:
        """Count the store's active instances, unless counted in the last ``COUNTS_TTL``
        seconds. A store failing leaves the gauges out (unknown, not stale)."""
        store = self._runtime.store if self._runtime is not None else None
        if store is None or time.monotonic() - self._counted_at < self.COUNTS_TTL:
            return
        self._counted_at = time.monotonic()
        try:
            self.metrics.gauges.active = await store.count_active(datetime.now(UTC))
        except StoreError as exc:
            self.metrics.engine_error(STORE_ERROR)
            self.metrics.gauges.active = None
            log.warning("counting instances for /metrics failed: %s", exc)

    # the lifecycle listener ----------------------------------------------------------------

    def listen(self, event: CloudEvent) -> None:
        """The lifecycle listener ``attach`` registers."""
        run = CURRENT_RUN.get()
        if run is None:
            return  # not inside a run: a suspension asked from outside, say
        try:
            state = run.notes.get(self)
            if state is None:
                state = self._begin(run)
            found = self._handlers.get(event["type"])
            if found is not None:
                handler, status = found
                handler(state, event, status)
        except Exception:  # telemetry must never change what an instance does
            self._failures += 1
            if self._failures <= 10:
                log.exception("telemetry failed on %s of instance %s", event.get("type"),
                              run.instance.id)

    def _begin(self, run: Run) -> _RunState:
        definition = run.instance.definition
        state = _RunState(run, f"{definition.namespace}/{definition.name}",
                          definition.version, first_task=not run.resumed)
        if self.tracing is not None:
            state.outer = self.tracing.current()
            state.span = self.tracing.start_run(
                f"workflow {state.workflow}", run.instance.trace_parent,
                {"podium.instance.id": run.instance.id, "podium.workflow": state.workflow,
                 "podium.workflow.version": state.version, "podium.instance.resumed": run.resumed},
            )
        run.notes[self] = state
        run.on_exit.append(functools.partial(self._exited, state))
        return state

    def _exited(self, state: _RunState) -> None:
        """The run is over (ended, parked, stopped): end the spans still open."""
        if self.tracing is None:
            return
        status = state.run.instance.status
        for mark in state.tasks.values():
            if mark.span is not None:
                self.tracing.end(mark.span, status)
        state.tasks.clear()
        self.tracing.end(state.span, status, state.error if status == "faulted" else None)
        self.tracing.restore(state.outer)

    def _workflow_status(self, state: _RunState, event: CloudEvent, _: str | None) -> None:
        pass  # listen() began the run's state, which is all this event is for

    def _workflow_started(self, state: _RunState, event: CloudEvent, _: str | None) -> None:
        self.metrics.instances_started(state.workflow, state.version).inc()

    def _workflow_ended(self, state: _RunState, event: CloudEvent, status: str | None) -> None:
        assert status is not None
        instance = state.run.instance
        seconds = max((datetime.now(UTC) - instance.started_at).total_seconds(), 0.0)
        self.metrics.instances(state.workflow, state.version, status).inc()
        self.metrics.duration(state.workflow, status).observe(seconds)
        if status == "faulted":
            state.error = event["data"].get("error")
            if state.run.internal_error:
                self.metrics.engine_error(INTERNAL_ERROR)

    def _task_started(self, state: _RunState, event: CloudEvent, _: str | None) -> None:
        task = CURRENT_TASK.get()
        if task is None:
            return
        if state.first_task:
            state.first_task = False
            instance = state.run.instance
            created = instance.created_at or instance.started_at
            delay = max((datetime.now(UTC) - created).total_seconds(), 0.0)
            self.metrics.start_delay(state.workflow).observe(delay)
        mark = state.tasks[task] = _TaskMark(time.perf_counter())
        if self.tracing is not None:
            mark.span, mark.outer = self._task_span(state, task, resumed=False)

    def _task_ended(self, state: _RunState, event: CloudEvent, status: str | None) -> None:
        task = CURRENT_TASK.get()
        if task is None or status is None:
            return
        mark = state.tasks.pop(task, None)
        if mark is None and not task.resumed:
            return  # skipped by its `if`: it did not run
        kind, protocol = kind_of(task.task)
        self.metrics.tasks(state.workflow, kind, status).inc()
        if protocol is not None:
            self.metrics.calls(state.workflow, protocol, status).inc()
            if mark is not None:
                self.metrics.call_duration(protocol).observe(time.perf_counter() - mark.began)
        error = event["data"].get("error") if status == "faulted" else None
        if error is not None and log.isEnabledFor(logging.INFO):
            detail = f": {error['detail']}" if error.get("detail") else ""
            log.info("task %s faulted: %s%s", task.reference,
                     error.get("title") or error.get("type"), detail)
        if self.tracing is not None:
            if mark is None or mark.span is None:  # started by an earlier run
                span, outer = self._task_span(state, task, resumed=True)
            else:
                span, outer = mark.span, mark.outer
            self.tracing.end(span, status, error)
            self.tracing.restore(outer)

    def _task_retried(self, state: _RunState, event: CloudEvent, _: str | None) -> None:
        self.metrics.retries(state.workflow).inc()
        log.info("task %s is retried", event["data"].get("task"))

    def _task_span(self, state: _RunState, task: TaskRun, resumed: bool) -> tuple[Any, Any]:
        assert self.tracing is not None
        kind, protocol = kind_of(task.task)
        # Few attributes: the SDK checks each one (the workflow is on the run's span).
        attributes: dict[str, Any] = {
            "podium.instance.id": state.run.instance.id,
            "podium.task.position": task.position,
            "podium.task.kind": kind,
        }
        if protocol is not None:
            attributes["podium.call.protocol"] = protocol
        if resumed:
            attributes["podium.task.resumed"] = True
        return self.tracing.start_task(task.reference, protocol is not None, attributes)
