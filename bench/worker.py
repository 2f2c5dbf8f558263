"""One benchmark worker process (started by ``python -m bench W2 --workers N``).

``python -m bench.worker --store URL --id NAME [--concurrency C]`` opens the store,
prints ``ready``, waits for ``go`` on standard input, then claims and runs
instances like ``podium worker`` until ``stop`` (or the end of standard input).
Starting up (imports, connecting) is thus not part of the measured time.
With ``--profile-out FILE`` the working part runs under cProfile and its top
functions are written to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import sys
from collections.abc import Sequence

from podium import Runtime
from podium.guards import tune_garbage_collector
from podium.store import open_store
from podium.worker import Worker


async def _line() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


async def work(
    url: str, worker_id: str, concurrency: int, profile_out: str | None, tune_gc: bool
) -> None:
    store = open_store(url)
    await store.open()
    try:
        async with Runtime(store=store, worker_id=worker_id) as runtime:
            worker = Worker(runtime, concurrency=concurrency, poll_seconds=0.05)
            if tune_gc:
                tune_garbage_collector()  # as `podium worker` does once started
            print("ready", flush=True)
            if await _line() != "go":
                return
            began = _cpu_seconds()
            profile = cProfile.Profile() if profile_out else None
            if profile is not None:
                profile.enable()
            stop = asyncio.Event()
            running = asyncio.ensure_future(worker.run(stop))
            await _line()  # "stop", or end of input: the parent is gone
            stop.set()
            await running
            # What the parent reports as CPU per workflow per worker.
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"cpu {_cpu_seconds() - began:.4f} rss {rss:.1f}", flush=True)
            if profile is not None and profile_out is not None:
                profile.disable()
                _write_profile(profile, profile_out)
    finally:
        await store.close()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _write_profile(profile: cProfile.Profile, path: str) -> None:
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    with open(path, "w") as out:
        out.write(buffer.getvalue())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--id", required=True, help="the worker id (lease owner)")
    parser.add_argument("--concurrency", type=int, default=250)
    parser.add_argument("--profile-out", metavar="FILE", help="profile with cProfile into FILE")
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned")
    args = parser.parse_args(argv)
    asyncio.run(work(args.store, args.id, args.concurrency, args.profile_out,
                     args.gc == "tuned"))


if __name__ == "__main__":
    main()
