"""Listeners of runs without a store: subscriptions and mailboxes in memory.

An event published in the process (``Runtime.publish_event``, an ``emit``) is
matched at once against the listeners waiting right now; nothing is kept for
listeners that start later (not retroactive, as with a store).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from podium.events.matching import Matcher, Received, bind


class MemoryMailbox:
    """A listener's mailbox in memory; the instance never parks."""

    parks = False

    def __init__(self, hub: MemoryHub, key: tuple[str, str], spec: dict[str, Any]) -> None:
        self.hub = hub
        self.key = key
        self.spec = spec
        self.bound: dict[str, Any] = {}
        self.pending: list[Received] = []
        self.arrived = asyncio.Event()

    async def take(self) -> list[Received]:
        self.arrived.clear()
        return list(self.pending)

    async def wait(self, seconds: float | None) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self.arrived.wait()
        except TimeoutError:
            pass

    async def consumed(self, received: Sequence[Received]) -> None:
        taken = {r.key for r in received}
        self.pending = [r for r in self.pending if r.key not in taken]

    async def close(self, consumed: Sequence[Received] = ()) -> None:
        self.hub.mailboxes.pop(self.key, None)


class MemoryHub:
    """The in-memory listeners of one runtime."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.mailboxes: dict[tuple[str, str], MemoryMailbox] = {}
        self._keys = itertools.count()

    def subscribe(self, instance_id: str, position: str, spec: dict[str, Any]) -> MemoryMailbox:
        key = (instance_id, position)
        mailbox = self.mailboxes.get(key)
        if mailbox is None:
            mailbox = self.mailboxes[key] = MemoryMailbox(self, key, spec)
        return mailbox

    async def deliver(self, event: Mapping[str, Any]) -> int:
        """Match an event against every waiting listener; how many received it."""
        key = f"m{next(self._keys):012d}"
        count = 0
        for mailbox in list(self.mailboxes.values()):
            received = await self.matcher.match(mailbox.spec, mailbox.bound, key, event)
            if received is None:
                continue
            bind(mailbox.spec, mailbox.bound, received.keys)
            mailbox.pending.append(received)
            mailbox.arrived.set()
            count += 1
        return count
