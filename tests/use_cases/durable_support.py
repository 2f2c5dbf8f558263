"""Helpers for the durable use cases (payment-processing, batch-fan-out,
data-analysis): deploy their documents, start instances, run workers in this
process or as real worker processes, and read what happened."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from examples import use_cases

from podium import load
from podium.runtime import Runtime
from podium.store import InstanceRecord, JournalEntry, Store
from tests.durability.helpers import runtime_on, working

# Leases short enough that a worker that dies loses its instances quickly.
LEASE = 1.5


def document(case: str, name: str) -> Path:
    return use_cases.directory(case) / name



async def deploy(store_url: str, case: str, *names: str) -> None:
    async with runtime_on(store_url, "deployer") as runtime:
        for name in names:
            await runtime.deploy(load(document(case, name)))


async def create(store_url: str, case: str, name: str, data: Any) -> InstanceRecord:
    """A pending instance of the document, for workers to run."""
    async with runtime_on(store_url, "creator") as runtime:
        record, _ = await runtime.create_instance(load(document(case, name)), data)
        return record


@contextlib.asynccontextmanager
async def workers_in_process(store_url: str, count: int) -> AsyncIterator[list[Runtime]]:
    """``count`` workers, each a runtime with its own store connection (as separate
    processes would have), claiming in the background until the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        runtimes = []
        for number in range(count):
            runtime = await stack.enter_async_context(
                runtime_on(store_url, f"worker-{number + 1}", lease_seconds=LEASE))
            await stack.enter_async_context(working(runtime, park_after=5))
            runtimes.append(runtime)
        yield runtimes


def worker_count(store_url: str) -> int:
    """The brief: one worker on SQLite, two sharing PostgreSQL."""
    return 2 if store_url.startswith("postgresql") else 1


def kinds_at(journal: list[JournalEntry], suffix: str) -> list[str]:
    """The kinds of the journal entries whose position ends with ``suffix``."""
    return [e.kind for e in journal if e.position.endswith(suffix)]


async def journal_of(store: Store, instance_id: str) -> list[JournalEntry]:
    return await store.read_journal(instance_id)
