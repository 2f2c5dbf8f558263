"""A worker in its own process, for crash tests (they ``kill -9`` it).

    python -m tests.support.worker_process --store URL --ready FILE [--worker-id ID]
        [--lease 2] [--park-after 5] [--poll 0.1] [--concurrency 16] [--allow-run KINDS]

Runs ``podium.worker.Worker`` (the Python API, not the CLI) until SIGTERM or
SIGINT. Without ``--worker-id`` the id is the default ``host:pid``, so a worker
started after this one was killed sees its owner is dead and takes its
instances at once; with an explicit id the lease has to expire first. The
``--ready`` file is written once the store is open and the worker is about to
claim.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from podium.config import Settings, parse_allow_run
from podium.runtime import Runtime
from podium.store import open_store
from podium.worker import Worker


async def main(arguments: argparse.Namespace) -> None:
    store = open_store(arguments.store)
    await store.open()
    runtime = Runtime(
        store=store, worker_id=arguments.worker_id, lease_seconds=arguments.lease,
        settings=Settings(allow_run=parse_allow_run(arguments.allow_run)),
    )
    worker = Worker(
        runtime, concurrency=arguments.concurrency, poll_seconds=arguments.poll,
        park_after=arguments.park_after,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await asyncio.to_thread(Path(arguments.ready).write_text, runtime.worker_id)
    try:
        await worker.run(stop)
    finally:
        await runtime.aclose()
        await store.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="worker_process")
    parser.add_argument("--store", required=True)
    parser.add_argument("--ready", required=True, help="file written once the worker runs")
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--park-after", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--allow-run", default="", help="process kinds run tasks may start")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(parse()))
