"""SQLite commits on the event loop (synchronous=NORMAL) but never waits there:
while another process holds the write lock, batches go to the writer thread."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from podium.store import open_store
from tests.store.factories import entry, instance


async def test_writes_wait_on_the_thread_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "podium.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        record = instance()
        await store.create_instance(record)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing
        append = asyncio.ensure_future(store.append([entry(record.id, "/do/0/a")]))
        # The event loop keeps turning while the append waits for the lock.
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not append.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(append, 5)
        journal = await store.read_journal(record.id)
        assert [e.position for e in journal] == ["/do/0/a"]
    finally:
        await store.close()


async def test_full_synchronous_commits_on_the_writer_thread(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'podium.db'}?synchronous=FULL")
    await store.open()
    try:
        record = instance()
        await store.create_instance(record)
        await asyncio.gather(*(store.append([entry(record.id, f"/do/{i}/t")]) for i in range(50)))
        assert len(await store.read_journal(record.id)) == 50
    finally:
        await store.close()
