"""Other processes hear of events at once on PostgreSQL (LISTEN/NOTIFY); SQLite
says it cannot tell, and its processes poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podium.dsl import load
from podium.runtime import Runtime
from podium.store import ENDED, Store, open_store
from podium.worker import Worker
from tests.support.postgres import PostgresServer

LISTENER = """
document: {dsl: '1.0.3', namespace: test, name: notified, version: '1.0.0'}
do:
  - ping:
      listen:
        to:
          one:
            with: {type: com.example.ping}
"""

# Far longer than the test may take: only a notification can make it pass.
POLL = 60.0


@pytest.fixture
async def postgres_url(postgres: PostgresServer) -> str:
    return postgres.create_database()


async def _opened(url: str) -> Store:
    store = open_store(url)
    await store.open()
    return store


@pytest.fixture
async def two_stores(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two connections to one database, as two processes have."""
    first, second = await _opened(postgres_url), await _opened(postgres_url)
    yield first, second
    await first.close()
    await second.close()


@pytest.mark.timeout(60)
async def test_an_event_stored_elsewhere_reaches_a_worker_that_polls_rarely(
    two_stores: tuple[Store, Store],
) -> None:
    working_store, publishing_store = two_stores
    worker_runtime = Runtime(store=working_store, worker_id="listening-worker")
    worker_runtime.dispatcher.poll_seconds = POLL
    publisher = Runtime(store=publishing_store, worker_id="publisher")
    stop = asyncio.Event()
    working = asyncio.ensure_future(Worker(worker_runtime, poll_seconds=POLL).run(stop))
    try:
        record, _ = await worker_runtime.create_instance(load(LISTENER), {})

        async def check(predicate: Any) -> Any:
            for _ in range(400):
                found = await publishing_store.get_instance(record.id)
                if found is not None and predicate(found):
                    return found
                await asyncio.sleep(0.05)
            raise AssertionError(f"not reached: {await publishing_store.get_instance(record.id)}")

        # The first claim is immediate; the listener subscribes and parks.
        await check(lambda r: r.status == "waiting" and r.owner is None)
        await publisher.publish_event({"specversion": "1.0", "id": "p1", "source": "elsewhere",
                                       "type": "com.example.ping", "data": "hello"})
        done = await check(lambda r: r.status in ENDED)
        assert done.status == "completed", done.error
        assert done.output == ["hello"]
    finally:
        stop.set()
        await asyncio.wait_for(working, 10)
        await worker_runtime.aclose()
        await publisher.aclose()


async def test_sqlite_cannot_tell_other_processes(tmp_path: Any) -> None:
    store = await _opened(f"sqlite:///{tmp_path / 'podium.db'}")
    try:
        assert await store.watch(lambda channel: None) is False
    finally:
        await store.close()


async def test_postgresql_reports_events_and_due_listeners(
    two_stores: tuple[Store, Store],
) -> None:
    watching, other = two_stores
    heard: list[str] = []
    assert await watching.watch(heard.append) is True
    for _ in range(100):  # listening: it reports every channel once connected
        if heard:
            break
        await asyncio.sleep(0.05)
    heard.clear()
    await other.put_events([{"specversion": "1.0", "id": "n1", "source": "s", "type": "t"}])
    for _ in range(100):
        if "events" in heard:
            break
        await asyncio.sleep(0.05)
    assert heard == ["events"]
    # A duplicate stores nothing: nothing to tell.
    heard.clear()
    await other.put_events([{"specversion": "1.0", "id": "n1", "source": "s", "type": "t"}])
    await asyncio.sleep(0.5)
    assert heard == []
