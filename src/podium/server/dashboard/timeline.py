"""A timeline (Gantt chart) of an instance's task executions, laid out for SVG:
one row per execution, its bar from start to outcome; timers (a ``wait``, a
retry delay) as hatched bars on the row of the task that set them; attempts of
a ``try`` and iterations as rows of their own, labelled with their marks."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from podium.recovery import reference_of
from podium.server.dashboard.outcomes import Execution, TaskHistory, marks
from podium.store import ENDED, InstanceRecord
from podium.worker import took

ROW_H = 22.0
LABEL_W = 250.0
AXIS_H = 24.0
INDENT = 12.0
MAX_ROWS = 300

# Nice tick steps, in seconds.
_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
          300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 604800)


@dataclass
class Bar:
    x: float
    w: float
    kind: str  # completed | faulted | running | interrupted | wait | retry | copied
    title: str
    composite: bool = False  # a task around others: drawn thinner


@dataclass
class Row:
    label: str
    depth: int
    reference: str
    position: str
    y: float
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Timeline:
    width: float
    height: float
    rows: list[Row]
    ticks: list[tuple[float, str]]
    label_w: float = LABEL_W
    left_out: int = 0  # executions not drawn (beyond MAX_ROWS)
    copied: bool = False  # a re-run: some rows are its copied history
    # Operator actions and the like, as vertical marks: (x, label, title).
    marks: list[tuple[float, str, str]] = field(default_factory=list)


def _depth(reference: str) -> int:
    return max(len(re.findall(r"/\d+/", reference)) - 1, 0)


def timeline(history: TaskHistory, instance: InstanceRecord, now: datetime,
             composites: Collection[str] = (), width: float = 1236.0) -> Timeline:
    """The rows of ``history``; ``composites``: references of tasks around others."""
    executions = history.executions[:MAX_ROWS]
    ended = instance.status in ENDED
    stop = instance.ended_at if ended and instance.ended_at else now
    # A re-run's copied history happened in another instance, earlier: its own
    # time starts with it.
    begin = min([instance.started_at or instance.created_at,
                 *(e.started_at for e in executions if not e.copied)])
    finish = max([stop, *(e.ended_at for e in executions if e.ended_at and not e.copied),
                  *(t.due for t in history.timers if t.purpose != "timeout" and not ended)])
    span = max((finish - begin).total_seconds(), 0.001)
    chart_w = width - LABEL_W - 16

    def x_of(moment: datetime) -> float:
        return LABEL_W + (moment - begin).total_seconds() / span * chart_w

    rows: list[Row] = []
    by_position: dict[str, Row] = {}
    for index, execution in enumerate(executions):
        name = execution.reference.rsplit("/", 1)[-1]
        row = Row(f"{name}{marks(execution.position)}", _depth(execution.reference),
                  execution.reference, execution.position, AXIS_H + index * ROW_H)
        if execution.copied:
            bar = Bar(LABEL_W, 4.0, "copied", "copied from the instance this one re-runs")
        else:
            bar = _bar(execution, x_of, stop, ended)
        bar.composite = execution.reference in composites
        row.bars.append(bar)
        rows.append(row)
        by_position[execution.position] = row
    for timer in history.timers:
        if timer.purpose == "timeout" or timer.set_at < begin:
            continue
        owner = timer.position.rsplit("@", 1)[0] if timer.purpose == "retry" else timer.position
        timed = by_position.get(owner)
        if timed is None:
            continue
        until = min(timer.due, stop) if ended else timer.due
        x = x_of(timer.set_at)
        what = "retry delay" if timer.purpose == "retry" else "timer"
        timed.bars.append(Bar(x, max(x_of(until) - x, 2.0), timer.purpose,
                            f"{what} of {took((timer.due - timer.set_at).total_seconds())}"
                            f" (due {timer.due.isoformat(timespec='milliseconds')})"))
    shown_marks = [
        (x_of(at), what, f"{what} at {at.isoformat(timespec='milliseconds')}"
         + (f" by {by}" if by else ""))
        for at, what, by in history.actions if begin <= at <= finish
    ]
    height = AXIS_H + len(rows) * ROW_H + (22 if shown_marks else 8)
    return Timeline(width, height, rows, _ticks(span, chart_w),
                    left_out=len(history.executions) - len(executions),
                    copied=history.rerun_at is not None, marks=shown_marks)


def _bar(execution: Execution, x_of: Callable[[datetime], float], stop: datetime,
         ended: bool) -> Bar:
    end = execution.ended_at or stop
    kind = execution.outcome or ("interrupted" if ended else "running")
    x = x_of(execution.started_at)
    seconds = (end - execution.started_at).total_seconds()
    title = f"{reference_of(execution.position)}: {kind} after {took(seconds)}"
    if execution.error:
        title += f" ({execution.error.get('title') or execution.error.get('type')})"
    return Bar(x, max(x_of(end) - x, 2.0), kind, title)


def _tick_text(seconds: float) -> str:
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"+{seconds * 1000:g} ms"
    if seconds < 60:
        return f"+{seconds:g} s"
    # "1 min", not "1 min 0 s"
    return "+" + took(seconds).replace(" 0 s", "").replace(" 0 min", "").replace(" 0 h", "")


def _ticks(span: float, chart_w: float) -> list[tuple[float, str]]:
    step = next((s for s in _STEPS if span / s <= 8), _STEPS[-1])
    ticks, index = [], 0
    while index * step <= span + 1e-9:
        t = round(index * step, 6)
        ticks.append((LABEL_W + t / span * chart_w, _tick_text(t)))
        index += 1
    return ticks
