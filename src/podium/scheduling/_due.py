"""When a schedule fires next (dsl-reference "Schedule"), in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.dsl.cron import next_cron
from podium.dsl.durations import inline_milliseconds, iso_seconds

KINDS = ("every", "cron", "after", "on")


def schedule_kind(spec: Mapping[str, Any]) -> str:
    """The rule a ``schedule`` block states (a valid document states exactly one)."""
    for kind in KINDS:
        if spec.get(kind) is not None:
            return kind
    raise ValueError("a schedule takes one of 'every', 'cron', 'after' or 'on'")


def interval(value: Any) -> timedelta:
    """A ``duration`` of the document: ISO 8601 text or an inline object."""
    if isinstance(value, str):
        return timedelta(seconds=iso_seconds(value))
    return timedelta(milliseconds=inline_milliseconds(dict(value)))


def next_due(kind: str, spec: Mapping[str, Any], after: datetime) -> datetime | None:
    """The first due time of the schedule ``spec`` (the document's ``schedule``
    block) later than ``after``:

    - ``every``: ``after`` plus the interval;
    - ``cron``: the next time the expression names, read in UTC (no daylight
      saving time: ``0 2 * * *`` is 02:00 UTC every day);
    - ``after``: ``after`` is when the previous instance ended; the next starts
      that long after it (before the first fire, the scheduler fires at once);
    - ``on``: None, events start instances (``podium.events``).
    """
    after = after.astimezone(UTC)
    if kind == "every":
        return after + max(interval(spec["every"]), _MINIMUM)
    if kind == "cron":
        return next_cron(spec["cron"], after)
    if kind == "after":
        return after + interval(spec["after"])
    if kind == "on":
        return None
    raise ValueError(f"unknown schedule kind {kind!r}")


# `every: PT0S` would fire on every tick of every worker: one a second at most.
_MINIMUM = timedelta(seconds=1)


def first_due(kind: str, spec: Mapping[str, Any], now: datetime) -> datetime | None:
    """When a schedule that was just deployed fires first: ``after`` at once (there
    is no previous instance to wait for), the others at their next due time."""
    return now.astimezone(UTC) if kind == "after" else next_due(kind, spec, now)
