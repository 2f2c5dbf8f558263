"""The JSON shapes the commands print (``--json``) and the API returns: camelCase keys, ISO 8601
times in UTC. Other tools read these; add keys, never rename them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from podium.engine.lifecycle import utc_iso
from podium.store import (
    DefinitionRecord,
    EventRecord,
    InstanceRecord,
    JournalEntry,
    SubscriptionRecord,
    quarantined,
)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return utc_iso(value)


def workflow_ref(namespace: str, name: str, version: str) -> str:
    return f"{namespace}/{name}:{version}"


def instance_json(record: InstanceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "key": record.key,
        "status": record.status,
        "workflow": {
            "namespace": record.namespace, "name": record.name, "version": record.version
        },
        "input": record.input,
        "output": record.output,
        "error": record.error,
        "createdAt": iso(record.created_at),
        "startedAt": iso(record.started_at),
        "updatedAt": iso(record.updated_at),
        "endedAt": iso(record.ended_at),
        "owner": record.owner,
        "leaseExpiresAt": iso(record.lease_expires_at),
        "wakeAt": iso(record.wake_at),
        "request": record.request,
        "parentId": record.parent_id,
        "parentPosition": record.parent_position,
        "crashes": record.crashes,
        "quarantined": quarantined(record),
    }


def waiting_for_json(subscriptions: list[SubscriptionRecord]) -> list[dict[str, Any]]:
    """What an instance blocked in ``listen`` waits for, one member per listener
    (fork branches may listen at once): the task, the strategy and its filters,
    the correlation values bound so far, the deadline if any."""
    shown = []
    for subscription in subscriptions:
        spec = subscription.spec
        shown.append({
            "task": spec.get("task"),
            "position": subscription.position,
            "strategy": spec.get("strategy"),
            "filters": spec.get("filters"),
            "until": spec.get("until"),
            "read": spec.get("read"),
            "correlation": dict((subscription.state or {}).get("keys") or {}),
            "since": iso(subscription.created_at),
            "deadline": iso(subscription.deadline),
        })
    return shown


def event_json(record: EventRecord) -> dict[str, Any]:
    """An inbox event as ``events list --json`` prints it (add keys, never rename)."""
    return {
        "key": record.key,
        "receivedAt": iso(record.received_at),
        "type": record.type,
        "source": record.source,
        "id": record.id,
        "subject": record.subject,
        "origin": record.origin,
        "dispatchedAt": iso(record.dispatched_at),
        "consumers": list(record.consumers),
        "event": record.event,
    }


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": iso(entry.at),
        "position": entry.position,
        "kind": entry.kind,
        "data": entry.data,
        "worker": entry.worker,
    }


def definition_json(record: DefinitionRecord) -> dict[str, Any]:
    return {
        "namespace": record.namespace,
        "name": record.name,
        "version": record.version,
        "createdAt": iso(record.created_at),
    }
