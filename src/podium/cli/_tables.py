"""The human views: Rich tables of instances, journals and definitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from podium.cli._records import workflow_ref
from podium.store import DefinitionRecord, InstanceRecord, JournalEntry, quarantined

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


def status(value: str) -> Text:
    return Text(value, style=STATUS_STYLES.get(value, ""))


def compact(value: Any, width: int = SUMMARY_WIDTH) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def instances(records: Sequence[InstanceRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("id", "workflow", "status", "created", "ended"):
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(
            record.id,
            workflow_ref(record.namespace, record.name, record.version),
            status(record.status),
            when(record.created_at),
            when(record.ended_at),
        )
    return table


def instance(record: InstanceRecord) -> Table:
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
            table.add_row(name, value)
    return table


def _summary(entry: JournalEntry) -> str:
    data = entry.data if isinstance(entry.data, dict) else {}
    if entry.kind == "task.completed" and "output" in data:
        directive = data.get("directive")
        then = f" then {directive}" if directive not in (None, "continue") else ""
        return f"output {compact(data['output'])}{then}"
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
            entry.position,
            entry.kind,
            _summary(entry),
        )
    return table


def definitions(records: Sequence[DefinitionRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("workflow", "deployed"):
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(workflow_ref(record.namespace, record.name, record.version),
                      when(record.created_at))
    return table
