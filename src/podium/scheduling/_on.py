"""Registering ``schedule.on``: a subscription row that the event dispatcher
(``podium.events``) matches like any listener's, and answers by starting an
instance (``start_scheduled``) instead of filling a mailbox."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podium.expressions.jq import is_expression
from podium.store.base import DefinitionRecord, Store, SubscriptionRecord

POSITION = "/schedule/on"
ANY_TYPE = "*"
# A type matched by equality (as ``podium.events.matching`` indexes them).
_PLAIN_TYPE = re.compile(r"[A-Za-z0-9._:/\-]+")


def subscriber(namespace: str, name: str) -> str:
    """The ``instance_id`` of a schedule's subscription."""
    return f"schedule:{namespace}/{name}"


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


def _types_of(spec: Mapping[str, Any]) -> list[str]:
    """Each filter's literal ``type``, or ``*`` (see ``matching.types_of``)."""
    try:  # the dispatcher's own rule, once podium.events.matching exists
        types_of = importlib.import_module("podium.events.matching").types_of
    except (ImportError, AttributeError):
        pass
    else:
        return list(types_of(spec))
    filters: Sequence[Mapping[str, Any]] = spec["filters"]
    found = {ANY_TYPE} if not filters else set()
    for event_filter in filters:
        event_type = event_filter.get("with", {}).get("type")
        literal = isinstance(event_type, str) and _PLAIN_TYPE.fullmatch(event_type)
        found.add(event_type if literal and not is_expression(event_type) else ANY_TYPE)
    return sorted(found)


async def register_on(store: Store, record: DefinitionRecord, now: datetime | None = None) -> None:
    """Subscribe the definition's ``schedule.on`` (replacing the subscription of
    the version it takes over)."""
    spec = on_spec(record)
    await store.subscribe(SubscriptionRecord(
        instance_id=subscriber(record.namespace, record.name),
        position=POSITION,
        types=tuple(_types_of(spec)),
        spec=spec,
        state=None,
        created_at=now or datetime.now(UTC),
    ))


async def unregister_on(store: Store, namespace: str, name: str) -> None:
    await store.unsubscribe(subscriber(namespace, name), POSITION)
