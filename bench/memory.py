"""Measure the interpreter alone, in memory: ``python -m bench memory [--iterations N] [--json]``.

Each workload is loaded once, run once to warm up (and to count its task
executions from lifecycle events), then run ``--iterations`` times in sequence
with no listeners, the way an embedding application would run it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from collections.abc import Sequence
from typing import Any

import podium
from bench.workloads import WORKLOADS, Workload
from podium import Definition, Runtime


async def count_tasks(definition: Definition, workload: Workload) -> int:
    started = 0

    def listen(event: dict[str, Any]) -> None:
        nonlocal started
        if event["type"] == "io.serverlessworkflow.task.started.v1":
            started += 1

    async with Runtime(listeners=[listen]) as runtime:
        execution = await runtime.execute(definition, workload.input)
    if execution.status != "completed":
        raise SystemExit(f"{workload.name} did not complete: {execution.error!r}")
    return started


async def measure(workload: Workload, iterations: int) -> dict[str, Any]:
    definition = podium.load(workload.document)
    tasks = await count_tasks(definition, workload)
    async with Runtime() as runtime:
        begin = time.perf_counter()
        for _ in range(iterations):
            await runtime.execute(definition, workload.input)
        elapsed = time.perf_counter() - begin
    return {
        "workload": workload.name,
        "description": workload.description,
        "iterations": iterations,
        "tasks_per_workflow": tasks,
        "seconds": round(elapsed, 4),
        "ms_per_workflow": round(elapsed * 1000 / iterations, 4),
        "workflows_per_second": round(iterations / elapsed, 1),
        "tasks_per_second": round(iterations * tasks / elapsed, 1),
        "python": platform.python_version(),
        "podium": podium.__version__,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__)
    parser.add_argument("--iterations", "-n", type=int, default=1000,
                        help="runs of each workload (default: 1000)")
    parser.add_argument("--workload", "-w", action="append", choices=sorted(WORKLOADS),
                        help="run only this workload (repeatable; default: all)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per workload instead of a table")
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    for name in args.workload or list(WORKLOADS):
        result = asyncio.run(measure(WORKLOADS[name], args.iterations))
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(
                f"{result['workload']:<14} {result['iterations']:>7} runs  "
                f"{result['tasks_per_workflow']:>4} tasks/run  "
                f"{result['ms_per_workflow']:>9.3f} ms/workflow  "
                f"{result['tasks_per_second']:>10,.0f} tasks/s",
                flush=True,
            )

