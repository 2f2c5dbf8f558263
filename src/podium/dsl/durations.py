"""Durations (dsl-reference "Duration"): inline objects or ISO 8601 strings."""

from __future__ import annotations

import re

from podium.dsl.model import ISO_DURATION, DurationInline

_PART = re.compile(r"(\d+(?:\.\d+)?)([YMWDHS])")

# Calendar units have no fixed length; a year counts 365 days and a month 30,
# the usual reading for timers (Temporal and Synapse do the same).
_DATE_SECONDS = {"Y": 365 * 86400.0, "M": 30 * 86400.0, "W": 7 * 86400.0, "D": 86400.0}
_TIME_SECONDS = {"H": 3600.0, "M": 60.0, "S": 1.0}


def iso_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration such as ``P1DT2H30M`` or ``PT0.5S``."""
    if not ISO_DURATION.match(text):
        raise ValueError(f"'{text}' is not an ISO 8601 duration")
    date, _, time = text[1:].partition("T")
    total = sum(float(n) * _DATE_SECONDS[u] for n, u in _PART.findall(date))
    total += sum(float(n) * _TIME_SECONDS[u] for n, u in _PART.findall(time))
    return total


def inline_seconds(duration: DurationInline) -> float:
    return (
        (duration.days or 0) * 86400.0
        + (duration.hours or 0) * 3600.0
        + (duration.minutes or 0) * 60.0
        + (duration.seconds or 0)
        + (duration.milliseconds or 0) / 1000.0
    )
