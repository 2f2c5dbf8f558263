"""Registering ``schedule.on``: a subscription row that the event dispatcher
(``podium.events``) matches like any listener's, and answers by starting an
instance (``start_scheduled``) instead of filling a mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from podium.events.matching import types_of
from podium.store.base import SCHEDULE_SUBSCRIBER, DefinitionRecord, Store, SubscriptionRecord

POSITION = "/schedule/on"


def subscriber(namespace: str, name: str) -> str:
    """The ``instance_id`` of a schedule's subscription."""
    return f"{SCHEDULE_SUBSCRIBER}{namespace}/{name}"


def on_spec(record: DefinitionRecord) -> dict[str, Any]:
    """The subscription spec of the definition's ``schedule.on``, in the shape of a
    listener's (``podium.events.matching``), plus the version to start."""
    on: Mapping[str, Any] = record.document["schedule"]["on"]
    strategy = next(kind for kind in ("one", "all", "any") if on.get(kind) is not None)
    filters = [on["one"]] if strategy == "one" else list(on[strategy])
    evaluate = record.document.get("evaluate") or {}
    spec: dict[str, Any] = {
        "task": POSITION,
        "mode": evaluate.get("mode", "strict"),
        "strategy": strategy,
        "filters": filters,
        "until": None,  # refused at load (podium.dsl.checks)
        "version": record.version,
    }
    if "read" in on:
        spec["read"] = on["read"]
    return spec


async def register_on(store: Store, record: DefinitionRecord, now: datetime | None = None) -> None:
    """Subscribe the definition's ``schedule.on`` (replacing the subscription of
    the version it takes over)."""
    spec = on_spec(record)
    await store.subscribe(SubscriptionRecord(
        instance_id=subscriber(record.namespace, record.name),
        position=POSITION,
        types=tuple(types_of(spec)),
        spec=spec,
        state=None,
        created_at=now or datetime.now(UTC),
    ))


async def unregister_on(store: Store, namespace: str, name: str) -> None:
    await store.unsubscribe(subscriber(namespace, name), POSITION)
