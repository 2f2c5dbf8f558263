"""Schedules of deployed workflows (dsl-reference "Schedule"): rows in the
store, their next due times, and the loop workers fire them with.

- ``sync_schedule``: after a deploy, make the workflow's schedule the one its
  highest deployed version declares (``Runtime.deploy`` calls it);
- ``next_due``: when a schedule fires next;
- ``Scheduler``: fires due schedules (``podium worker`` ticks it);
- ``start_scheduled``: start an instance for a fire (also for ``schedule.on``,
  called by the event dispatcher), idempotent by key;
- ``register_on``: the subscription of a ``schedule.on``.
"""

from __future__ import annotations

from podium.scheduling._due import KINDS, first_due, next_due, schedule_kind
from podium.scheduling._fire import Scheduler, schedule_key, start_scheduled
from podium.scheduling._on import register_on, unregister_on
from podium.scheduling._sync import sync_schedule

__all__ = [
    "KINDS",
    "Scheduler",
    "first_due",
    "next_due",
    "register_on",
    "schedule_key",
    "schedule_kind",
    "start_scheduled",
    "sync_schedule",
    "unregister_on",
]
