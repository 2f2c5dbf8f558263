"""Keeping the schedule rows in step with what is deployed.

The schedule of a workflow (namespace/name) is the one its highest deployed
version declares: deploying a newer version with a ``schedule`` takes it over
(kind, expression and version replaced, next due time computed afresh), and a
newer version without one removes it. Deploying an older version changes
nothing. ``sync_schedule`` is idempotent: a definition deployed again, or one
whose schedule did not change, leaves the row (and its next due time) alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from podium.scheduling._due import first_due, schedule_kind
from podium.scheduling._on import register_on, unregister_on
from podium.store.base import ScheduleRecord, Store


async def sync_schedule(
    store: Store, namespace: str, name: str, now: datetime | None = None
) -> ScheduleRecord | None:
    """Create, replace or remove the schedule of namespace/name after a deploy;
    returns the schedule now in force (None: the workflow has none)."""
    latest = await store.get_definition(namespace, name, None)
    current = next(
        (s for s in await store.list_schedules() if (s.namespace, s.name) == (namespace, name)),
        None,
    )
    block = latest.document.get("schedule") if latest is not None else None
    if latest is None or not block:
        if current is not None:
            await store.delete_schedule(namespace, name)
            if current.kind == "on":
                await unregister_on(store, namespace, name)
        return None
    if current is not None and current.version == latest.version and current.spec == block:
        return current
    now = now or datetime.now(UTC)
    kind = schedule_kind(block)
    record = ScheduleRecord(
        namespace=namespace, name=name, version=latest.version, kind=kind, spec=block,
        next_due=first_due(kind, block, now), owner=None, lease_expires_at=None,
        last_due=None, last_instance=None, updated_at=now,
    )
    await store.put_schedule(record)
    if kind == "on":
        await register_on(store, latest, now)
    elif current is not None and current.kind == "on":
        await unregister_on(store, namespace, name)
    return record
