"""Helpers shared by the durability tests: runtimes on their own store
connection, workers running in the background, and polling the store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from podium.engine.lifecycle import Listener
from podium.runtime import Runtime
from podium.store import ENDED, InstanceRecord, JournalEntry, Store, open_store
from podium.worker import Worker

T = TypeVar("T")

# Short leases keep lease-expiry tests fast; renewals come every third of it.
LEASE = 1.5
# How far a timer may fire from its original due time (2 CPUs, two databases).
TOLERANCE = 0.5


@contextlib.asynccontextmanager
async def runtime_on(
    url: str, worker_id: str, lease_seconds: float = LEASE, listeners: list[Listener] | None = None
) -> AsyncIterator[Runtime]:
    """A runtime with its own store connection, like one process of many."""
    store = open_store(url)
    await store.open()
    runtime = Runtime(store=store, worker_id=worker_id, lease_seconds=lease_seconds,
                      listeners=listeners or [])
    try:
        yield runtime
    finally:
        await runtime.aclose()
        await store.close()


@contextlib.asynccontextmanager
async def working(runtime: Runtime, **options: Any) -> AsyncIterator[Worker]:
    """A worker claiming in the background; leaving stops it, which releases what
    it holds (the instances continue elsewhere by replay)."""
    options.setdefault("poll_seconds", 0.05)
    worker = Worker(runtime, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def eventually(
    check: Callable[[], Awaitable[T | None]], within: float = 10.0, interval: float = 0.05
) -> T:
    """Poll until ``check`` gives something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within}s: {check}")
        await asyncio.sleep(interval)


async def ended(store: Store, instance_id: str, within: float = 10.0) -> InstanceRecord:
    """The instance once it has ended (completed, faulted or cancelled)."""

    async def check() -> InstanceRecord | None:
        record = await store.get_instance(instance_id)
        return record if record is not None and record.status in ENDED else None

    return await eventually(check, within)


async def in_status(
    store: Store, instance_id: str, status: str, within: float = 10.0, *, unowned: bool = False
) -> InstanceRecord:
    async def check() -> InstanceRecord | None:
        record = await store.get_instance(instance_id)
        if record is None or record.status != status or (unowned and record.owner is not None):
            return None
        return record

    return await eventually(check, within)


async def journaled(
    store: Store, instance_id: str, kind: str, position: str, within: float = 10.0
) -> JournalEntry:
    """The first journal entry of ``kind`` at ``position``, once it is there."""

    async def check() -> JournalEntry | None:
        found = entries(await store.read_journal(instance_id), kind, position)
        return found[0] if found else None

    return await eventually(check, within)


def entries(journal: list[JournalEntry], kind: str, position: str) -> list[JournalEntry]:
    return [e for e in journal if e.kind == kind and e.position == position]


def due(journal: list[JournalEntry], position: str) -> datetime:
    """The due time of the timer journaled at ``position``."""
    (timer,) = entries(journal, "timer", position)
    return datetime.fromisoformat(timer.data["due"])


def call_key(instance_id: str, position: str) -> str:
    """The ``Idempotency-Key`` a journaled HTTP call sends."""
    return f"{instance_id}:{position}"
