"""What an instance's journal says about each task of its graph: the executions
(a start and, once known, its outcome), the timers, and one state per task
reference for coloring the graph.

A journal position is a task's reference with marks for the execution it names
(``/do/1/loop[3]/do/0/charge``: iteration 3; ``@1``: attempt 1 of a ``try``;
``~2``: a later visit by ``then``; ``#timeout``; ``+/use/extensions/...``: a
task an extension ran). The task's entries also carry its reference
(``data.task``); ``recovery.reference_of`` derives it from the position when
not. An operator's retry voids the faults it retried (``retry_voids``): they
stay in the timeline, but a task's state comes from its executions since.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podium.dsl.graph import END, SCOPE, START, Graph
from podium.engine.journal import RERUN, retry_voids
from podium.recovery import reference_of
from podium.store import ENDED, InstanceRecord, JournalEntry, SubscriptionRecord

STARTED, COMPLETED, FAULTED, RETRIED, TIMER = (
    "task.started", "task.completed", "task.faulted", "task.retried", "timer",
)

# The states a task is drawn in (the legend's order).
STATES = ("completed", "faulted", "running", "waiting", "skipped", "interrupted", "not-reached")

_MARKS = re.compile(r"\[\d+\]|@\d+|~\d+")


def marks(position: str) -> str:
    """The iteration, attempt and visit marks of a position (``[2]@1``), for labels."""
    return "".join(_MARKS.findall(position.rpartition("+")[2]))


@dataclass
class Execution:
    """One execution of a task: from its start to its outcome (None: none yet)."""

    position: str
    reference: str
    seq: int
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None  # completed | faulted
    error: dict[str, Any] | None = None
    voided: bool = False  # a fault (or its start) an operator's retry set aside
    copied: bool = False  # from the instance a re-run copied its history from

    @property
    def attempt(self) -> int | None:
        found = re.findall(r"@(\d+)", self.position)
        return int(found[-1]) if found else None


@dataclass
class Timer:
    """A durable timer: a ``wait``, a retry delay or a task's timeout."""

    position: str
    reference: str
    set_at: datetime
    due: datetime
    purpose: str  # wait | retry | timeout


@dataclass
class TaskHistory:
    executions: list[Execution] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)  # executions per reference
    retries: dict[str, int] = field(default_factory=dict)  # task.retried per reference
    rerun_at: int | None = None  # the seq of a re-run's marker: what precedes is copied
    # What happened to the instance as a whole (an operator's retry, a suspension):
    # (when, what, who asked).
    actions: list[tuple[datetime, str, str]] = field(default_factory=list)


def _reference(entry: JournalEntry) -> str:
    task = entry.data.get("task") if isinstance(entry.data, dict) else None
    return task if isinstance(task, str) and task.startswith("/") else reference_of(
        entry.position)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def read_history(
    entries: Sequence[JournalEntry],
    graph: Graph,
    instance: InstanceRecord,
    listening: Sequence[SubscriptionRecord] = (),
    now: datetime | None = None,
) -> TaskHistory:
    """The executions, timers and task states an instance's journal records."""
    history = TaskHistory()
    voided = retry_voids(entries)
    history.rerun_at = next((entry.seq for entry in entries if entry.kind == RERUN), None)
    open_by_position: dict[str, Execution] = {}
    for index, entry in enumerate(entries):
        if entry.kind == STARTED:
            reference = _reference(entry)
            execution = Execution(entry.position, reference, entry.seq or 0, entry.at,
                                  voided=index in voided)
            execution.copied = history.rerun_at is not None and execution.seq < history.rerun_at
            history.executions.append(execution)
            open_by_position[entry.position] = execution
            history.runs[reference] = history.runs.get(reference, 0) + 1
        elif entry.kind in (COMPLETED, FAULTED):
            found = open_by_position.pop(entry.position, None)
            if found is None:  # an outcome whose start predates the history kept
                found = Execution(entry.position, _reference(entry), entry.seq or 0, entry.at)
                history.executions.append(found)
            execution = found
            execution.ended_at = entry.at
            execution.voided = execution.voided or index in voided
            execution.outcome = "completed" if entry.kind == COMPLETED else "faulted"
            if entry.kind == FAULTED and isinstance(entry.data, dict):
                error = entry.data.get("error")
                execution.error = error if isinstance(error, dict) else None
        elif entry.kind == TIMER and isinstance(entry.data, dict):
            due = _time(entry.data.get("due"))
            if due is not None:
                purpose = ("timeout" if entry.position.endswith("#timeout") else
                           "retry" if entry.position.endswith("/retry") else "wait")
                history.timers.append(
                    Timer(entry.position, _reference(entry), entry.at, due, purpose))
        elif entry.kind.startswith("instance."):
            by = entry.data.get("by") if isinstance(entry.data, dict) else None
            history.actions.append((entry.at, entry.kind.removeprefix("instance."),
                                    str(by or "")))
        elif entry.kind == RETRIED:
            reference = _reference(entry)
            history.retries[reference] = history.retries.get(reference, 0) + 1
    history.states = _states(history, graph, instance, listening, now)
    return history


def _states(history: TaskHistory, graph: Graph, instance: InstanceRecord,
            listening: Sequence[SubscriptionRecord], now: datetime | None) -> dict[str, str]:
    ended = instance.status in ENDED
    parked = {reference_of(s.position) for s in listening}
    timed = {timer.reference for timer in history.timers
             if timer.purpose != "timeout" and (now is None or timer.due > now)}
    current = [e for e in history.executions if not e.voided]
    latest: dict[str, Execution] = {}
    for execution in current:
        known = latest.get(execution.reference)
        if known is None or execution.seq >= known.seq:
            latest[execution.reference] = execution
    states: dict[str, str] = {}
    closed = [e for e in current if e.outcome is not None]
    for reference, execution in latest.items():
        if execution.outcome is not None:
            states[reference] = execution.outcome
        elif ended or _left_behind(execution, closed):
            states[reference] = "interrupted"
        else:
            node = graph.node(reference)
            waits = node is not None and node.kind in ("wait", "listen")
            states[reference] = ("waiting" if reference in parked or reference in timed
                                 or (waits and instance.status == "waiting") else "running")
    _scopes(graph, states, latest)
    _skipped(graph, None, states)
    if instance.started_at is not None or latest:
        states[START] = "completed"
    if instance.status in ("completed", "faulted"):
        states[END] = instance.status
    return states


def _left_behind(execution: Execution, closed: list[Execution]) -> bool:
    """An execution without outcome inside one that has ended: cancelled with it
    (a fork branch that lost the race, a ``try`` attempt that timed out)."""
    return any(
        outer.seq < execution.seq and execution.position.startswith(outer.position)
        and execution.position[len(outer.position):][:1] in ("/", "[", "@", "#", "+")
        for outer in closed
    )


def _scopes(graph: Graph, states: dict[str, str], latest: dict[str, Execution]) -> None:
    """A ``try`` scope takes the state of the task in it that started last."""
    for node in graph.nodes:
        if node.kind != SCOPE:
            continue
        inside = [latest[child.id] for child in graph.nodes
                  if child.id.startswith(node.id + "/") and child.id in latest]
        if inside:
            states[node.id] = states[max(inside, key=lambda e: e.seq).reference]


def _skipped(graph: Graph, parent: str | None, states: dict[str, str]) -> None:
    """Tasks never started while a later task of the same list ran are skipped
    (an ``if`` that did not hold, a ``then`` or a case that jumped past them)."""
    children = [node for node in graph.children(parent) if node.kind not in (START, END)]
    reached = [index for index, node in enumerate(children) if node.id in states]
    last = max(reached, default=-1)
    for index, node in enumerate(children):
        if node.id not in states and index < last:
            states[node.id] = "skipped"
        if node.id in states:
            _skipped(graph, node.id, states)


def compact(value: Any, limit: int = 90) -> str:
    """JSON on one line, cut at ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(entry: JournalEntry) -> str:
    """One line saying what a journal entry records, for the journal table."""
    data = entry.data if isinstance(entry.data, dict) else {}
    if entry.kind == FAULTED and isinstance(data.get("error"), dict):
        error = data["error"]
        title = str(error.get("title") or error.get("type") or "")
        return f"{title}: {error['detail']}" if error.get("detail") else title
    if entry.kind == COMPLETED:
        directive = data.get("directive")
        then = f" then {directive}" if directive not in (None, "continue") else ""
        return f"output {compact(data.get('output'))}{then}"
    if entry.kind == STARTED and "input" in data:
        return f"input {compact(data['input'])}"
    if entry.kind == RETRIED and "attempt" in data:
        return f"attempt {data['attempt']}"
    if entry.kind == TIMER and "due" in data:
        return f"due {data['due']}"
    if entry.kind in ("event.received", "event.emitted") and isinstance(data.get("event"), dict):
        event = data["event"]
        return f"{event.get('type')} from {event.get('source')}"
    if entry.kind.startswith("instance."):
        parts = [f"by {data['by']}"] if data.get("by") else []
        if data.get("status"):
            parts.append(f"was {data['status']}")
        if data.get("from"):
            parts.append(f"re-run of {data['from']} from {data.get('at')}")
        return ", ".join(parts)
    return ""
