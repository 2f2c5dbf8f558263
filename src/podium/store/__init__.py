"""Stores: where definitions, instances and journals live (see ``base`` for the contract).

``open_store(url)`` picks the implementation from the URL:

- ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
  ``sqlite:///:memory:`` — embedded, one file (options: see ``podium.store.sqlite``);
- ``postgresql://user@host:5432/db`` (or ``postgres://``) — for scale-out.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from podium.store._sqlstore import redact
from podium.store.base import (
    ACTIVE,
    CANCEL,
    CANCELLED,
    COMMANDS,
    COMPLETED,
    CURSOR_PATTERN,
    ENDED,
    FAULTED,
    INSTANCE_CANCELLED,
    INSTANCE_SUSPENDED,
    PENDING,
    QUARANTINED,
    RESUME,
    RESUMED,
    RETRIED,
    RETRY,
    RUNNING,
    SUSPEND,
    SUSPENDED,
    WAITING,
    ActiveCounts,
    DefinitionConflict,
    DefinitionRecord,
    Delivery,
    EndedSample,
    ErrorCount,
    EventRecord,
    InstanceQuery,
    InstanceRecord,
    InstanceStats,
    JournalEntry,
    LeaseLost,
    PayloadTooLarge,
    ScheduleRecord,
    Store,
    StoreError,
    SubscriptionRecord,
    WorkflowCounts,
    page_cursor,
    parse_cursor,
    quarantined,
)

DEFAULT_STORE_URL = "sqlite:///./podium.db"


def store_url(explicit: str | None = None) -> str:
    """The store to use: ``explicit`` if given, else env ``PODIUM_STORE``, else the
    SQLite file ``./podium.db``."""
    return explicit or os.environ.get("PODIUM_STORE") or DEFAULT_STORE_URL


def open_store(url: str) -> Store:
    """A store for ``url``, not yet opened: ``await store.open()`` connects and migrates."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from podium.store.sqlite import SqliteStore

        return SqliteStore(url)
    if scheme in ("postgresql", "postgres"):
        # Imported on demand: the embedded default should not pay for psycopg.
        from podium.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(
        f"unsupported store URL {redact(url)!r}: use sqlite:///path/to/podium.db"
        " or postgresql://user@host:5432/database"
    )


__all__ = [
    "ACTIVE",
    "CANCEL",
    "CANCELLED",
    "COMMANDS",
    "COMPLETED",
    "CURSOR_PATTERN",
    "DEFAULT_STORE_URL",
    "ENDED",
    "FAULTED",
    "INSTANCE_CANCELLED",
    "INSTANCE_SUSPENDED",
    "PENDING",
    "QUARANTINED",
    "RESUME",
    "RESUMED",
    "RETRIED",
    "RETRY",
    "RUNNING",
    "SUSPEND",
    "SUSPENDED",
    "WAITING",
    "ActiveCounts",
    "DefinitionConflict",
    "DefinitionRecord",
    "Delivery",
    "EndedSample",
    "ErrorCount",
    "EventRecord",
    "InstanceQuery",
    "InstanceRecord",
    "InstanceStats",
    "JournalEntry",
    "LeaseLost",
    "PayloadTooLarge",
    "ScheduleRecord",
    "Store",
    "StoreError",
    "SubscriptionRecord",
    "WorkflowCounts",
    "open_store",
    "page_cursor",
    "parse_cursor",
    "quarantined",
    "store_url",
]
