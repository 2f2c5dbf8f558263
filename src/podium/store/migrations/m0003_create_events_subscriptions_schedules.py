"""The event inbox, listeners' subscriptions and mailboxes, schedules, and named
leases (the events-and-schedules issue)."""

from __future__ import annotations

from podium.store._dialect import Dialect
from podium.store.schema import (
    DELIVERIES,
    EVENTS,
    LEASES,
    SCHEDULES,
    SUBSCRIPTIONS,
    create_statements,
)


def statements(dialect: Dialect) -> list[str]:
    return [
        statement
        for table in (EVENTS, SUBSCRIPTIONS, DELIVERIES, SCHEDULES, LEASES)
        for statement in create_statements(dialect, table)
    ]
