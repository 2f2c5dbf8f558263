"""The human views: Rich tables of instances, journals and definitions.

Every cell is a ``Text`` of ``printable`` text: never Rich markup (an output
holding ``[/]`` is data, not a style), never a terminal control character.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from podium.cli._output import printable
from podium.records import workflow_ref
from podium.store import (
    DefinitionRecord,
    InstanceRecord,
    JournalEntry,
    SubscriptionRecord,
    quarantined,
)

STATUS_STYLES = {
    "pending": "cyan",
    "running": "blue",
    "waiting": "magenta",
    "suspended": "yellow",
    "completed": "green",
    "faulted": "red",
    "cancelled": "yellow",
}

SUMMARY_WIDTH = 100


def when(value: datetime | None, *, precise: bool = False) -> str:
    if value is None:
        return ""
    timespec = "milliseconds" if precise else "seconds"
    text = value.astimezone(UTC).isoformat(sep=" ", timespec=timespec)
    return text.replace("+00:00", "Z")


def when_short(value: datetime | None) -> str:
    """``01-05 09:12Z``: for a table that cannot afford the full time."""
    return "" if value is None else value.astimezone(UTC).strftime("%m-%d %H:%MZ")


def cell(value: str | None, style: str = "") -> Text:
    return Text(printable(value or ""), style=style)


def status(value: str) -> Text:
    return cell(value, STATUS_STYLES.get(value, ""))


def compact(value: Any, width: int = SUMMARY_WIDTH) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class _Column:
    name: str
    value: Callable[[InstanceRecord], str]


_ID = _Column("id", lambda r: r.id)
_WORKFLOW = _Column("workflow", lambda r: workflow_ref(r.namespace, r.name, r.version))
_STATUS = _Column("status", lambda r: r.status)
_CREATED = _Column("created", lambda r: when(r.created_at))
_ENDED = _Column("ended", lambda r: when(r.ended_at))
_CREATED_SHORT = _Column("created", lambda r: when_short(r.created_at))
# What `instances list` shows, widest first: the first layout whose columns all fit
# the terminal whole is used. An id is never cut: times are shortened, then
# dropped, and the workflow is the one column that may end in "…" (last layout).
_LAYOUTS = (
    (_ID, _WORKFLOW, _STATUS, _CREATED, _ENDED),
    (_ID, _WORKFLOW, _STATUS, _CREATED),
    (_ID, _WORKFLOW, _STATUS, _CREATED_SHORT),
    (_ID, _WORKFLOW, _STATUS),
)
_GAP = 2  # between columns: Table(box=None) pads each side by one
_MIN_WORKFLOW = 12


class _Fitted:
    """A table built when it is printed, for the width it is printed in."""

    def __init__(self, build: Callable[[int], Table]) -> None:
        self._build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._build(options.max_width)


def instances(records: Sequence[InstanceRecord]) -> RenderableType:
    """The instances as a table fitted to the console it is printed on."""
    return _Fitted(lambda width: _instance_table(records, width))


def _instance_table(records: Sequence[InstanceRecord], width: int) -> Table:
    columns, workflow_width = _layout(records, width)
    needed = sum(_natural(column, records) for column in columns if column is not _WORKFLOW)
    needed += _GAP * (len(columns) - 1) + (workflow_width or 0)
    # Wider than the terminal only when the id and status alone do not fit: the
    # terminal then wraps the lines, it does not cut them.
    table = Table(box=None, header_style="bold", pad_edge=False,
                  width=needed if needed > width else None)
    for column in columns:
        if column is _WORKFLOW:
            table.add_column(column.name, no_wrap=True, overflow="ellipsis",
                             max_width=workflow_width)
        else:
            table.add_column(column.name, no_wrap=True, overflow="ignore")
    for record in records:
        table.add_row(*(status(record.status) if column is _STATUS
                        else cell(column.value(record)) for column in columns))
    return table


def _natural(column: _Column, records: Sequence[InstanceRecord]) -> int:
    """The width of ``column`` with every value whole."""
    return max([len(column.name), *(len(printable(column.value(r))) for r in records)])


def _layout(records: Sequence[InstanceRecord],
            width: int) -> tuple[tuple[_Column, ...], int | None]:
    """The columns to show, and the workflow's width when it must be cut."""
    def natural(column: _Column) -> int:
        return _natural(column, records)

    for columns in _LAYOUTS:
        needed = sum(natural(column) for column in columns) + _GAP * (len(columns) - 1)
        if needed <= width:
            return columns, None
    # The workflow shares what the id and the status leave, cut with "…"; on a
    # terminal narrower still, the line is as wide as they need.
    columns = (_ID, _WORKFLOW, _STATUS)
    left = width - natural(_ID) - natural(_STATUS) - _GAP * 2
    if left >= _MIN_WORKFLOW:
        return columns, left
    return (_ID, _STATUS), None


def waiting_for(subscription: SubscriptionRecord) -> str:
    """A listener in one line: ``events at /do/0/bid: any of com.example.bid
    (auction = "a-1") until one of com.example.closed; deadline ...``."""
    spec = subscription.spec

    def group(strategy: str, filters: list[dict[str, Any]]) -> str:
        if not filters:
            return "any event"
        names = ", ".join(str(f.get("with", {}).get("type", "an event")) for f in filters)
        return f"{strategy} of {names}"

    text = f"events at {spec.get('task')}: {group(spec['strategy'], spec['filters'])}"
    keys = (subscription.state or {}).get("keys") or {}
    expected = {name: c["expect"] for f in spec["filters"]
                for name, c in (f.get("correlate") or {}).items() if "expect" in c}
    bound = {**expected, **keys}
    if bound:
        text += " (" + ", ".join(f"{n} = {compact(v)}" for n, v in bound.items()) + ")"
    until = spec.get("until")
    if isinstance(until, dict):
        text += (f" until {until['expression']}" if "expression" in until
                 else f" until {group(until['strategy'], until['filters'])}")
    if subscription.deadline is not None:
        text += f"; deadline {when(subscription.deadline)}"
    return text


def instance(record: InstanceRecord, listening: list[SubscriptionRecord] | None = None) -> Table:
    """One instance, field by field; input, output and error as JSON."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows: list[tuple[str, str | Text | None]] = [
        ("id", record.id),
        ("workflow", workflow_ref(record.namespace, record.name, record.version)),
        ("status", status(record.status)),
        ("key", record.key),
        ("created", when(record.created_at)),
        ("started", when(record.started_at)),
        ("updated", when(record.updated_at)),
        ("ended", when(record.ended_at)),
        ("wakes", when(record.wake_at)),
        ("waiting for", "\n".join(waiting_for(s) for s in listening or []) or None),
        ("owner", record.owner),
        ("request", record.request),
        ("crashes", str(record.crashes) if record.crashes else None),
        ("quarantined", f"yes: `podium instances retry {record.id}` runs it again"
         if quarantined(record) else None),
        ("parent", record.parent_id),
        ("input", json.dumps(record.input, indent=2, ensure_ascii=False)),
    ]
    if record.output is not None:
        rows.append(("output", json.dumps(record.output, indent=2, ensure_ascii=False)))
    if record.error is not None:
        rows.append(("error", json.dumps(record.error, indent=2, ensure_ascii=False)))
    for name, value in rows:
        if value:
            table.add_row(name, value if isinstance(value, Text) else
                          Text(printable(value, lines=True)))
    return table


def _summary(entry: JournalEntry) -> str:
    data = entry.data if isinstance(entry.data, dict) else {}
    if entry.kind == "task.completed" and "output" in data:
        directive = data.get("directive")
        then = f" then {directive}" if directive not in (None, "continue") else ""
        return f"output {compact(data['output'])}{then}"
    if entry.kind in ("event.received", "event.emitted") and isinstance(data.get("event"), dict):
        event = data["event"]
        what = f"{event.get('type')} from {event.get('source')} (id {event.get('id')})"
        if entry.kind == "event.emitted":
            return what
        use = {"item": "consumed", "until": "ended the listener", "skip": "not needed"}
        return f"{use.get(str(data.get('use')), '')}: {what}"
    if entry.kind == "task.started" and "input" in data:
        return f"input {compact(data['input'])}"
    if entry.kind == "task.faulted" and isinstance(data.get("error"), dict):
        error = data["error"]
        title = error.get("title") or error.get("type") or ""
        return f"{title}: {error['detail']}" if error.get("detail") else str(title)
    if entry.kind == "task.retried" and "attempt" in data:
        return f"attempt {data['attempt']}"
    if entry.kind == "timer" and "due" in data:
        return f"due {_utc_text(data['due'])}"
    if entry.kind.startswith("instance."):
        return _instance_line(data)
    return "" if entry.data is None else compact(entry.data)


def _utc_text(value: Any) -> str:
    """A recorded ISO 8601 time, printed like every other time here (UTC, ``Z``)."""
    try:
        return when(datetime.fromisoformat(str(value)), precise=True)
    except ValueError:
        return str(value)


def _instance_line(data: dict[str, Any]) -> str:
    """An operator action or what a worker did about one: who, and from which status."""
    parts = []
    if data.get("by"):
        parts.append(f"by {data['by']}")
    if data.get("status"):
        parts.append(f"was {data['status']}")
    if "crashes" in data:
        parts.append(f"{data['crashes']} crashes without progress")
    return ", ".join(parts)


def journal(entries: Sequence[JournalEntry]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("position", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("summary", overflow="fold")
    for entry in entries:
        table.add_row(
            str(entry.seq if entry.seq is not None else ""),
            when(entry.at, precise=True),
            cell(entry.position),
            cell(entry.kind),
            cell(_summary(entry)),
        )
    return table


def definitions(records: Sequence[DefinitionRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("workflow", "deployed"):
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(cell(workflow_ref(record.namespace, record.name, record.version)),
                      when(record.created_at))
    return table
