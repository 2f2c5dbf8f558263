"""Records for store tests, with defaults for everything a test does not care about."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.store import PENDING, DefinitionRecord, InstanceRecord, JournalEntry

_numbers = itertools.count(1)
# A fixed origin keeps created_at strictly increasing in creation order.
_ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def instance(**changes: Any) -> InstanceRecord:
    n = next(_numbers)
    created = _ORIGIN + timedelta(seconds=n)
    record = InstanceRecord(
        id=f"inst-{n:06d}",
        namespace="default",
        name="order",
        version="1.0.0",
        status=PENDING,
        input={"n": n},
        created_at=created,
        updated_at=created,
    )
    return replace(record, **changes)


def definition(version: str = "1.0.0", **changes: Any) -> DefinitionRecord:
    record = DefinitionRecord(
        namespace="default",
        name="order",
        version=version,
        document={"document": {"dsl": "1.0.3", "version": version}, "do": [{"a": {"set": {}}}]},
        source=f"document:\n  version: '{version}'\n",
        created_at=now(),
    )
    return replace(record, **changes)


def entry(
    instance_id: str, position: str, kind: str = "task.completed", **changes: Any
) -> JournalEntry:
    return replace(JournalEntry(instance_id, position, kind, now()), **changes)
