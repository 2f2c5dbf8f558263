"""The SQLite write-ahead log stays bounded (issue 7, item 12): under a steady burst
of commits it is rewound again and again instead of growing with every commit,
and once writes pause it is emptied. Sizes, not times: a slower machine changes
neither assertion."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from podium.store import JournalEntry, Store, open_store
from tests.durability.helpers import eventually

# The WAL a burst of this many small commits left behind before: ~90 MB.
APPENDS = 20_000
WRITERS = 16
# Far below what the burst wrote, with room for SQLite's own page accounting.
BOUND = 32 * 1024 * 1024


def wal_size(path: Path) -> int:
    try:
        return os.path.getsize(f"{path}-wal")
    except FileNotFoundError:
        return 0


async def burst(store: Store, path: Path) -> int:
    """``APPENDS`` journal appends from ``WRITERS`` instances at once; the largest
    WAL seen meanwhile."""
    peak = 0

    async def writer(number: int) -> None:
        nonlocal peak
        for count in range(APPENDS // WRITERS):
            entry = JournalEntry(f"instance-{number}", f"/do/{count}/step", "task.completed",
                                 datetime.now(UTC), {"output": "x" * 200})
            await store.append([entry])
            if count % 50 == 0:
                peak = max(peak, wal_size(path))

    await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    return max(peak, wal_size(path))


async def test_the_wal_stays_bounded_under_a_burst_and_empties_when_idle(
    tmp_path: Path,
) -> None:
    path = tmp_path / "podium.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        async with asyncio.timeout(120):
            peak = await burst(store, path)
            assert peak < BOUND, f"the WAL reached {peak / 1e6:.0f} MB"
            # Writes that queued up behind a checkpoint all committed, in order.
            for number in range(WRITERS):
                journal = await store.read_journal(f"instance-{number}")
                assert [e.position for e in journal] == [
                    f"/do/{count}/step" for count in range(APPENDS // WRITERS)
                ]

            async def emptied() -> bool:
                return wal_size(path) == 0

            await eventually(emptied, within=15)
    finally:
        await store.close()

