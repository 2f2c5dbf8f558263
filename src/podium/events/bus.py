"""The event bus interface, and the in-process bus used by embedded runs.

Transports (the store-backed bus, NATS JetStream) implement the same protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

CloudEvent = dict[str, Any]


class EventBus(Protocol):
    async def publish(self, event: CloudEvent) -> None:
        """Deliver one CloudEvent (structured JSON form) to every subscriber."""

    def subscribe(self) -> asyncio.Queue[CloudEvent]:
        """A queue receiving every event published from now on."""

    def unsubscribe(self, queue: asyncio.Queue[CloudEvent]) -> None:
        """Stop delivering to a queue obtained from ``subscribe``."""


class TransportError(RuntimeError):
    """The event bus cannot be used (unreachable, misconfigured, publish failed)."""


class EventTransport(Protocol):
    """A bus between processes that emitted events are published to (NATS)."""

    async def publish(self, event: CloudEvent) -> bool:
        """Publish an event; False when the bus already had its source+id;
        ``TransportError`` when it could not be published."""


class InProcessBus:
    """Fan-out to in-process subscribers; nothing is persisted."""

    def __init__(self) -> None:
        self._subscribers: list[asyncio.Queue[CloudEvent]] = []
        self.published: int = 0

    async def publish(self, event: CloudEvent) -> None:
        self.published += 1
        for queue in list(self._subscribers):
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[CloudEvent]:
        queue: asyncio.Queue[CloudEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[CloudEvent]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)
