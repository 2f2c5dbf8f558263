"""Cron expressions of ``schedule.cron``: the standard five fields (minute, hour,
day of month, month, day of week), or a nickname such as ``@daily``, read by
``croniter`` in UTC.

Checked when the document loads, so that ``podium validate`` names a bad
expression with its line and column instead of a worker failing at 2 a.m.
"""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import CroniterBadDateError, croniter

NICKNAMES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

# Where the "does it ever fire" probe starts: any fixed moment will do; croniter
# looks years ahead (February 31st never comes).
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable cron expression, or None."""
    text = expression.strip()
    fields = text.split()
    if text.lower() not in NICKNAMES and len(fields) != 5:
        return (
            f"invalid cron expression '{expression}': expected 5 fields (minute hour"
            f" day-of-month month day-of-week), got {len(fields)}"
        )
    if not croniter.is_valid(text):
        return f"invalid cron expression '{expression}'"
    try:
        croniter(text, _PROBE).get_next(datetime)
    except CroniterBadDateError:
        return f"cron expression '{expression}' never fires"
    return None


def next_cron(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``expression`` names, in UTC."""
    found: datetime = croniter(expression.strip(), after.astimezone(UTC)).get_next(datetime)
    return found.astimezone(UTC)
