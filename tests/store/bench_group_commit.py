"""Group-commit throughput: many concurrent instances, each appending sequentially.

    python -m tests.store.bench_group_commit sqlite:////tmp/bench.db [tasks] [appends]
    python -m tests.store.bench_group_commit postgresql://postgres@127.0.0.1:5432/db

Each task stands for one instance: it awaits each append (durable on return)
before the next, as the engine does between tasks. Without group commit the rate
would be bounded by one commit per append.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

from podium.store import JournalEntry, open_store


async def bench(url: str, tasks: int, appends: int) -> None:
    store = open_store(url)
    await store.open()
    run = f"bench-{time.time_ns()}"

    async def instance(n: int) -> None:
        for i in range(appends):
            entry = JournalEntry(
                f"{run}-{n}", f"/do/{i}", "task.completed", datetime.now(UTC), {"i": i}
            )
            await store.append([entry])

    started = time.perf_counter()
    await asyncio.gather(*(instance(n) for n in range(tasks)))
    elapsed = time.perf_counter() - started
    total = tasks * appends
    print(f"{url}: {total} appends by {tasks} tasks in {elapsed:.2f} s = {total / elapsed:,.0f}/s")

    started = time.perf_counter()
    for i in range(200):
        await store.append([JournalEntry(f"{run}-serial", f"/do/{i}", "x", datetime.now(UTC))])
    elapsed = time.perf_counter() - started
    print(f"{url}: one task alone: {200 / elapsed:,.0f} appends/s (one commit per append)")
    await store.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        bench(
            args[0], int(args[1]) if len(args) > 1 else 1000, int(args[2]) if len(args) > 2 else 10
        )
    )
