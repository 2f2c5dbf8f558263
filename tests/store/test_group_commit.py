"""Group commit: many concurrent writers, one transaction per batch, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from podium.store import (
    RUNNING,
    DefinitionConflict,
    LeaseLost,
    Store,
    StoreError,
    _batch,
    open_store,
    postgres,
    sqlite,
)
from podium.store.postgres import PostgresStore
from tests.store.factories import definition, entry, instance
from tests.support.postgres import PostgresServer

TASKS, STEPS = 100, 20


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The size of every batch the writers run (group commit made observable)."""
    sizes: list[int] = []

    async def recording(tx: _batch.Tx, writes: Sequence[_batch.Write], *args: Any) -> Any:
        sizes.append(len(writes))
        return await _batch.run_batch(tx, writes, *args)

    for backend in (sqlite, postgres):
        monkeypatch.setattr(backend, "run_batch", recording)
    yield sizes


async def test_concurrent_appends_are_durable_and_ordered(url: str, batch_sizes: list[int]) -> None:
    store = open_store(url)
    await store.open()
    records = [instance() for _ in range(TASKS)]

    async def run(record_id: str) -> None:
        await store.create_instance(instance(id=record_id))
        for step in range(STEPS):
            await store.append([entry(record_id, f"/do/{step}", data={"step": step})])
            await store.update_instance(record_id, status=RUNNING, output=step)

    await asyncio.gather(*(run(record.id) for record in records))
    await store.close()
    assert max(batch_sizes) > 1, "writes were committed one at a time"

    reopened = open_store(url)
    await reopened.open()
    try:
        for record in records:
            journal = await reopened.read_journal(record.id)
            assert [(e.seq, e.position) for e in journal] == [
                (step + 1, f"/do/{step}") for step in range(STEPS)
            ]
            stored = await reopened.get_instance(record.id)
            assert stored is not None and stored.output == STEPS - 1
    finally:
        await reopened.close()


async def test_close_finishes_queued_writes(url: str) -> None:
    store = open_store(url)
    await store.open()
    tasks = [asyncio.create_task(store.append([entry("late", f"/do/{n}")])) for n in range(50)]
    await asyncio.sleep(0)  # every task has queued its write
    await store.close()
    await asyncio.gather(*tasks)
    reopened = open_store(url)
    await reopened.open()
    assert len(await reopened.read_journal("late")) == 50
    await reopened.close()


async def test_refused_writes_fail_alone(store: Store) -> None:
    """Refusals (conflicts, lost leases, missing rows) leave the rest of the batch alone."""
    await store.put_definition(definition())
    owned = instance()
    await store.create_instance(owned)
    await store.claim("w1", 1, 30)
    outcomes = await asyncio.gather(
        *(store.append([entry("a", f"/do/{n}")]) for n in range(20)),
        store.put_definition(definition(document={"other": True})),
        store.update_instance("ghost", status=RUNNING),
        store.release("w2", owned.id),
        *(store.append([entry("a", f"/do/{n}")]) for n in range(20, 40)),
        return_exceptions=True,
    )
    assert outcomes[:20] == [None] * 20 and outcomes[23:] == [None] * 20
    assert isinstance(outcomes[20], DefinitionConflict)
    assert isinstance(outcomes[21], StoreError) and "ghost" in str(outcomes[21])
    assert isinstance(outcomes[22], LeaseLost)
    assert [e.position for e in await store.read_journal("a")] == [f"/do/{n}" for n in range(40)]


async def test_a_write_the_database_rejects_fails_alone(
    store: Store, batch_sizes: list[int]
) -> None:
    """A database error rolls the batch back; the others are retried one by one."""
    record = instance()
    await store.create_instance(record)
    outcomes = await asyncio.gather(
        *(store.append([entry("b", f"/do/{n}")]) for n in range(10)),
        store.update_instance(record.id, status=None),  # NOT NULL
        *(store.append([entry("b", f"/do/{n}")]) for n in range(10, 20)),
        return_exceptions=True,
    )
    assert max(batch_sizes) > 1, "the bad write had a batch of its own"
    assert isinstance(outcomes[10], StoreError)
    assert outcomes[:10] + outcomes[11:] == [None] * 20
    assert [e.position for e in await store.read_journal("b")] == [f"/do/{n}" for n in range(20)]
    stored = await store.get_instance(record.id)
    assert stored is not None and stored.status == record.status


async def test_a_caller_that_stops_waiting_does_not_stop_the_writer(store: Store) -> None:
    task = asyncio.create_task(store.append([entry("c", "/do/0")]))
    await asyncio.sleep(0)
    task.cancel()
    await store.append([entry("c", "/do/1")])
    # The cancelled caller's write was already queued: it commits all the same.
    assert [e.position for e in await store.read_journal("c")] == ["/do/0", "/do/1"]


async def test_postgres_writes_go_on_after_the_server_ends_the_writers_connection(
    postgres: PostgresServer,
) -> None:
    """The writer keeps a connection of its own; when the server ends it (a restart,
    pg_terminate_backend), the next batch reconnects, and no caller sees the loss."""
    url = postgres.create_database()
    store = open_store(url)
    await store.open()
    try:
        first = instance()
        await store.create_instance(first)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
            ended = await (await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()")).fetchall()
        assert ended  # the writer's connection (and the pool's) were there to end
        # At once: the server's farewell may still be on its way (then BEGIN fails
        # with it, and the batch goes again on a new connection), or here already
        # (then the connection is replaced before use).
        await store.append([entry(first.id, "/do/0/step")])
        second = instance()
        await store.create_instance(second)
        assert [e.position for e in await store.read_journal(first.id)] == ["/do/0/step"]
        assert await store.get_instance(second.id) is not None
    finally:
        await store.close()


async def test_postgres_writer_keeps_a_connection_that_only_had_news(
    postgres: PostgresServer,
) -> None:
    """Something to read on the writer's idle connection is not always an end: here
    a notification. The connection is checked with a round trip and kept."""
    url = postgres.create_database()
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    await store.open()
    try:
        first = instance()
        await store.create_instance(first)
        writer = store._writer_connection
        assert writer is not None
        await writer.execute("LISTEN podium_test_news")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as other:
            await other.execute("NOTIFY podium_test_news")
        await asyncio.sleep(0.1)  # the notification is on the writer's socket
        await store.append([entry(first.id, "/do/0/step")])
        assert store._writer_connection is writer
        assert [e.position for e in await store.read_journal(first.id)] == ["/do/0/step"]
    finally:
        await store.close()
