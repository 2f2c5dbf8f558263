"""Event workloads on a store: ``python -m bench W4|W5 [--store URL] [--json]``.

- W4, the event round trip: one instance parked in a ``listen`` (out of memory,
  as under ``podium worker``); an event is published to the store; measured from
  the publish until the instance completed (dispatch, wake, claim, replay,
  consume, complete). ``--runs`` times one after the other: median and p95 ms.
- W5, many listeners: ``--instances`` (10,000) instances parked in a ``listen``
  each expecting its own correlation value, then as many matching events
  published (in batches of 500, as ``podium events publish`` of a JSON array
  stores them): events per second delivered (every event in its listener's
  mailbox, the listener due) and completed (every instance ended), and the peak
  RSS of this process (it runs the worker).

One process runs the worker (``podium.worker.Worker``) and publishes, like
``podium serve`` with its embedded worker would. Without ``--store``, a new
SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import podium
from bench.durable import _fetch, count_ended, durability, opened_store
from podium import Runtime
from podium.dsl import load
from podium.guards import tune_garbage_collector
from podium.store import Store
from podium.worker import Worker

LISTENER = """
document: {dsl: '1.0.3', namespace: bench, name: listener, version: '1.0.0'}
do:
  - await:
      listen:
        to:
          one:
            with:
              type: bench.ping
            correlate:
              key:
                from: ${ .data.key }
                expect: ${ .key }
"""


def event(key: str, number: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"{key}-{number}", "source": "bench",
            "type": "bench.ping", "data": {"key": key}}


async def parked(store: Store, instance_ids: Sequence[str], within: float = 600) -> None:
    """Wait until every instance waits out of memory, subscribed."""
    deadline = time.monotonic() + within
    remaining = list(instance_ids)
    while remaining:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(remaining)} instances never parked")
        still = []
        for instance_id in remaining:
            record = await store.get_instance(instance_id)
            if record is None or record.status != "waiting" or record.owner is not None:
                still.append(instance_id)
        if still:
            await asyncio.sleep(0.05)
        remaining = still


async def w4(store: Store, runs: int, warmup: int) -> dict[str, Any]:
    done: dict[str, asyncio.Event] = {}

    def listener(cloud_event: dict[str, Any]) -> None:
        if cloud_event["type"] == "io.serverlessworkflow.workflow.completed.v1":
            name = cloud_event["data"]["name"]
            for instance_id, finished in done.items():
                if instance_id in name:
                    finished.set()

    definition = load(LISTENER)
    runtime = Runtime(store=store, worker_id="bench-w4", listeners=[listener])
    worker = Worker(runtime, poll_seconds=0.5)
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop))
    samples = []
    try:
        for number in range(warmup + runs):
            key = f"w4-{number}-{time.time_ns()}"
            record, _ = await runtime.create_instance(definition, {"key": key})
            done[record.id] = asyncio.Event()
            await parked(store, [record.id])
            started = time.perf_counter()
            await runtime.publish_event(event(key, number))
            await asyncio.wait_for(done[record.id].wait(), 30)
            if number >= warmup:
                samples.append((time.perf_counter() - started) * 1000)
            del done[record.id]
    finally:
        stop.set()
        await running
        await runtime.aclose()
    samples.sort()
    return {"workload": "W4", "runs": runs, "median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
            "min_ms": round(samples[0], 2)}


async def w5(store: Store, instances: int) -> dict[str, Any]:
    definition = load(LISTENER)
    runtime = Runtime(store=store, worker_id="bench-w5")
    worker = Worker(runtime, poll_seconds=0.2, concurrency=256)
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop))
    try:
        keys = [f"w5-{n}-{time.time_ns()}" for n in range(instances)]
        ids = []
        for key in keys:
            record, _ = await runtime.create_instance(definition, {"key": key})
            ids.append(record.id)
        await parked(store, ids)
        rss_parked = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        for start in range(0, instances, 500):
            await store.put_events([event(key, n) for n, key in
                                    enumerate(keys[start:start + 500], start)], "bench")
            runtime.dispatcher.notify()
        delivered: float | None = None
        while await count_ended(store, ids) < instances:
            if delivered is None and not await _undispatched(store):
                delivered = time.perf_counter() - started
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        await running
        await runtime.aclose()
    delivered = delivered or seconds
    return {"workload": "W5", "instances": instances,
            # In the listeners' mailboxes, their instances due (dispatched).
            "delivered_per_second": round(instances / delivered),
            # ...and every instance completed (woken, replayed, consumed, ended).
            "events_per_second": round(instances / seconds),
            "seconds_delivered": round(delivered, 2),
            "seconds": round(seconds, 2),
            "peak_rss_mb_parked": round(rss_parked),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


async def _undispatched(store: Store) -> int:
    rows = await _fetch(store, "SELECT count(*) FROM podium_events WHERE dispatched_at IS NULL")
    return int(rows[0][0])


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench W4|W5", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["W4", "W5"], type=str.upper)
    parser.add_argument("--store", help="store URL (default: a new SQLite file)")
    parser.add_argument("--runs", type=int, default=200, help="W4 measured runs")
    parser.add_argument("--warmup", type=int, default=20, help="W4 runs not measured")
    parser.add_argument("--instances", type=int, default=10_000, help="W5 listeners")
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned",
                        help="as `podium worker|serve` set it once started, or CPython's")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args(argv)
    if arguments.gc == "tuned":
        tune_garbage_collector()

    async def measure() -> dict[str, Any]:
        async with opened_store(arguments.store) as store:
            if arguments.workload == "W4":
                result = await w4(store, arguments.runs, arguments.warmup)
            else:
                result = await w5(store, arguments.instances)
            result["store"] = await durability(store)
        return result

    result = asyncio.run(measure())
    result.update(podium=podium.__version__, python=platform.python_version(), gc=arguments.gc)
    if arguments.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:>20}: {value}")
    sys.stdout.flush()


EVENTS = ("W4", "W5")
