"""How large the SQLite write-ahead log grows (issue 7, item 12). A measurement,
not a test: it prints sizes, asserts nothing.

    python -m bench.wal instances [--count 60000] [--concurrency 64]
    python -m bench.wal cycle [--seconds 30] [--unlimited]

``instances``: ``--count`` trivial instances (one ``set`` each) created pending,
then run by one in-process worker; the WAL is sampled every 100 ms while they
run, and again once the worker has been idle for 3 s.

``cycle``: what ``podium run --store`` does with a workflow whose ``set`` task
loops on itself (``then:``) for ``--seconds``: every iteration is journaled. The
history limit (50,000 entries) ends such an instance; ``--unlimited`` lifts it to
measure the WAL under the loop for the whole time.

Each run uses a new SQLite file in a temporary directory (default options).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from podium import load
from podium.engine.journal import Journal
from podium.runtime import Runtime
from podium.store import ENDED, InstanceQuery, open_store
from podium.worker import Worker

TRIVIAL = """
document: {dsl: '1.0.3', namespace: bench, name: trivial, version: '1.0.0'}
do:
  - only: {set: {done: true}}
"""

CYCLE = """
document: {dsl: '1.0.3', namespace: bench, name: cycle, version: '1.0.0'}
do:
  - spin:
      set: {n: '${ (.n // 0) + 1 }'}
      then: spin
"""

MB = 1e6


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Sampler:
    """Samples the WAL's size in the background; keeps the largest."""

    def __init__(self, database: Path) -> None:
        self.wal = Path(f"{database}-wal")
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Sampler:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, size(self.wal))

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, size(self.wal))
            await asyncio.sleep(0.1)


async def instances(count: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "podium.db"
        store = open_store(f"sqlite:///{database}")
        await store.open()
        runtime = Runtime(store=store, worker_id="bench")
        definition = load(TRIVIAL)
        for _ in range(count):
            await runtime.create_instance(definition, {})
        began = time.perf_counter()
        worker = Worker(runtime, concurrency=concurrency, poll_seconds=0.05)
        stop = asyncio.Event()
        async with Sampler(database) as sampler:
            working = asyncio.create_task(worker.run(stop))
            while True:
                ended = sum(1 for r in await store.list_instances(InstanceQuery(limit=count + 1))
                            if r.status in ENDED)
                if ended == count:
                    break
                await asyncio.sleep(1)
        elapsed = time.perf_counter() - began
        at_end = size(sampler.wal)
        await asyncio.sleep(3)
        idle = size(sampler.wal)
        stop.set()
        await working
        print(f"{count} instances in {elapsed:.0f} s; database {size(database) / MB:.0f} MB;"
              f" WAL peak {sampler.peak / MB:.1f} MB, {at_end / MB:.1f} MB at the end,"
              f" {idle / MB:.1f} MB after 3 s idle")
        await runtime.aclose()
        await store.close()


async def cycle(seconds: float, unlimited: bool) -> None:
    if unlimited:
        Journal.limit = 10**12
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "podium.db"
        store = open_store(f"sqlite:///{database}")
        await store.open()
        runtime = Runtime(store=store, worker_id="bench")
        async with Sampler(database) as sampler:
            handle = await runtime.start(load(CYCLE), {})
            try:
                execution = await asyncio.wait_for(handle.result(), seconds)
                outcome = f"{execution.status}: {execution.error.title if execution.error else ''}"
            except TimeoutError:
                outcome = f"still looping after {seconds:g} s"
                handle.release()
                await handle.result()
        entries = len(await store.read_journal(handle.id))
        await asyncio.sleep(3)
        print(f"cycle ({outcome}); {entries} journal entries; database"
              f" {size(database) / MB:.0f} MB; WAL peak {sampler.peak / MB:.1f} MB,"
              f" {size(sampler.wal) / MB:.1f} MB after 3 s idle")
        await runtime.aclose()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    many = commands.add_parser("instances")
    many.add_argument("--count", type=int, default=60_000)
    many.add_argument("--concurrency", type=int, default=64)
    loop = commands.add_parser("cycle")
    loop.add_argument("--seconds", type=float, default=30)
    loop.add_argument("--unlimited", action="store_true")
    arguments = parser.parse_args()
    if arguments.command == "instances":
        asyncio.run(instances(arguments.count, arguments.concurrency), debug=False)
    else:
        asyncio.run(cycle(arguments.seconds, arguments.unlimited), debug=False)


if __name__ == "__main__":
    main()
