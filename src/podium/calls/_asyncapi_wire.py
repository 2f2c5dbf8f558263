"""What every AsyncAPI protocol connector takes and gives: one message out, a
stream of deliveries in."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from podium.calls._asyncapi_document import Destination
from podium.engine.errors import WorkflowError


@dataclass(frozen=True)
class Outbound:
    body: bytes
    headers: dict[str, Any]
    content_type: str | None = None
    correlation_id: str | None = None


async def _settled() -> None:
    return None


@dataclass(frozen=True)
class Delivery:
    """A received message; ``settle`` acknowledges it once it has been used."""

    body: bytes
    headers: dict[str, Any]
    correlation_id: str | None = None
    settle: Callable[[], Awaitable[None]] = field(default=_settled)


Deliveries = AsyncGenerator[Delivery, None]


class Connector(Protocol):
    async def publish(self, destination: Destination, message: Outbound) -> None: ...

    def subscribe(
        self, destination: Destination
    ) -> AbstractAsyncContextManager[Deliveries]:
        """Subscribed once entered; iterating waits for the next delivery."""
        ...


def broker_error(destination: Destination, action: str, exc: BaseException) -> WorkflowError:
    """A library failure, as the communication error of the calling task."""
    reason = str(exc) or type(exc).__name__
    return WorkflowError.communication(
        f"{destination.protocol} broker {destination.host}:{destination.port}: cannot "
        f"{action} '{destination.address}': {reason}",
        instance=destination.where,
    )


def header_text(value: Any) -> str:
    """A header value for protocols whose headers are strings (NATS, MQTT)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
