"""Durations (dsl-reference "Duration"): inline objects or ISO 8601 strings.

The model imports this module (``ISO_DURATION``, the limit), so it imports no part
of the model at run time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from podium.limits import MAX_DURATION_SECONDS

if TYPE_CHECKING:
    from podium.dsl.model import DurationInline

# The schema's own pattern (isodate would accept `PT`, which the schema refuses).
ISO_DURATION = re.compile(
    r"^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$"
)

_PART = re.compile(r"(\d+(?:\.\d+)?)([YMWDHS])")

# Calendar units have no fixed length; a year counts 365 days and a month 30,
# the usual reading for timers (Temporal and Synapse do the same).
_DATE_SECONDS = {"Y": 365 * 86400.0, "M": 30 * 86400.0, "W": 7 * 86400.0, "D": 86400.0}
_TIME_SECONDS = {"H": 3600.0, "M": 60.0, "S": 1.0}

# Inline fields in milliseconds, as integers: `days: 10**400` must compare with
# the limit, not overflow a float.
_INLINE_MILLISECONDS = {
    "days": 86_400_000, "hours": 3_600_000, "minutes": 60_000, "seconds": 1000,
    "milliseconds": 1,
}

LIMIT_TEXT = f"{MAX_DURATION_SECONDS / (365 * 86400.0):g} years"


def iso_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration such as ``P1DT2H30M`` or ``PT0.5S``
    (``inf`` when the digits overflow a float)."""
    if not ISO_DURATION.match(text):
        raise ValueError(f"'{text}' is not an ISO 8601 duration")
    date, _, time = text[1:].partition("T")
    total = sum(float(n) * _DATE_SECONDS[u] for n, u in _PART.findall(date))
    total += sum(float(n) * _TIME_SECONDS[u] for n, u in _PART.findall(time))
    return total


def inline_milliseconds(parts: dict[str, int | None]) -> int:
    """Milliseconds in an inline duration's fields (``days``, ``hours``, ...), exactly."""
    return sum((parts.get(name) or 0) * factor for name, factor in _INLINE_MILLISECONDS.items())


def inline_seconds(duration: DurationInline) -> float:
    # Fields a document states are bounded at load (MAX_DURATION_SECONDS), so the
    # division cannot overflow; a huge one built in Python code saturates instead.
    milliseconds = inline_milliseconds(duration.model_dump())
    return milliseconds / 1000.0 if milliseconds < 10**300 else float("inf")


def too_long(seconds: float) -> bool:
    """Whether a duration exceeds MAX_DURATION_SECONDS (100 years)."""
    return not seconds <= MAX_DURATION_SECONDS
