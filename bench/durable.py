"""Durable workloads on a store: ``python -m bench W1|W2|W3 [--store URL] [--workers N] [--json]``.

- W1: one workflow of 10 sequential trivial durable steps, run ``--runs`` times one
  after the other (after ``--warmup`` runs): latency per workflow.
- W2: ``--workflows`` (1,000) of those workflows started at once: completed
  workflows and steps per second. In this process by default; with ``--workers N``
  the instances are created pending and N worker processes (``bench.worker``)
  claim and run them from the store (meant for PostgreSQL).
- W3: one workflow forking 100 trivial durable steps and joining them: latency.

A trivial durable step is a `set` that reads the clock (jq `now`): its outcome is
journaled and committed before the next step starts. Every measured workflow is
checked afterwards: it completed, and its journal (``store.read_journal``) has a
``task.completed`` entry for each of its steps.

Without ``--store`` the store is a new SQLite file in a temporary directory,
deleted at the end. ``--telemetry metrics`` attaches ``podium.telemetry`` to the
measured runtime (as ``podium serve`` and ``podium worker`` do), ``--telemetry
traces`` with spans too (exported to nowhere, after the SDK's batch queue).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import podium
from bench.workloads import Workload, durable_fork, durable_steps
from podium import Runtime
from podium.guards import tune_garbage_collector
from podium.store import ENDED, Store, open_store
from podium.store._sqlstore import redact

COMPLETED = "task.completed"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Durable:
    """A durable workload and the journal positions each of its runs must complete."""

    workload: Workload
    steps: int  # trivial durable steps per workflow
    positions: frozenset[str]


def steps_workload(length: int = 10) -> Durable:
    positions = frozenset(f"/do/{i}/step{i}" for i in range(length))
    return Durable(durable_steps(length), length, positions)


def fork_workload(branches: int = 100) -> Durable:
    base = "/do/0/fanOut"
    positions = frozenset(
        [base, *(f"{base}/fork/branches/{i}/branch{i}" for i in range(branches))]
    )
    return Durable(durable_fork(branches), branches, positions)


DURABLE = {"W1": steps_workload, "W2": steps_workload, "W3": fork_workload}


# the store ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def opened_store(url: str | None) -> AsyncIterator[Store]:
    """The store at ``url``, or a new SQLite file that is deleted afterwards."""
    with contextlib.ExitStack() as stack:
        if url is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="podium-bench-"))
            url = f"sqlite:///{directory}/bench.db"
        store = open_store(url)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


async def durability(store: Store) -> str:
    """What a commit guarantees on this store, as configured."""
    synchronous = getattr(store, "_synchronous", None)
    if synchronous is not None:
        return f"sqlite synchronous={synchronous} (WAL)"
    rows = await _fetch(
        store, "SELECT current_setting('synchronous_commit'), current_setting('fsync')"
    )
    return f"postgresql synchronous_commit={rows[0][0]} fsync={rows[0][1]}"


async def _fetch(store: Store, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    # Bench-only: a query the Store protocol has no method for, through the
    # store's own read path (works on SQLite and PostgreSQL alike).
    async def op(tx: Any) -> list[Any]:
        rows: list[Any] = await tx.fetch(sql, params)
        return rows

    return await store._read(op)  # type: ignore[attr-defined, no-any-return]


async def count_ended(store: Store, ids: Sequence[str]) -> int:
    ended = ", ".join(f"'{status}'" for status in ENDED)
    total = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await _fetch(
            store,
            f"SELECT count(*) FROM podium_instances WHERE status IN ({ended})"
            f" AND id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        total += int(rows[0][0])
    return total


async def check(store: Store, spec: Durable, ids: Sequence[str]) -> int:
    """Every instance completed, with a ``task.completed`` journal entry per step.

    Returns how many steps were completed more than once (a step executed again
    although its outcome was already journaled: wasted work, and an effect run
    twice), which is reported rather than fatal."""
    repeated = 0
    for instance_id in ids:
        record = await store.get_instance(instance_id)
        if record is None or record.status != "completed":
            status = record.status if record else "missing"
            raise SystemExit(f"instance {instance_id} is {status}, not completed")
        entries = await store.read_journal(instance_id)
        done = [entry.position for entry in entries if entry.kind == COMPLETED]
        missing = spec.positions - set(done)
        if missing:
            raise SystemExit(
                f"instance {instance_id}: no {COMPLETED} in the journal for {sorted(missing)[:3]}"
            )
        repeated += len(done) - len(set(done))
    if repeated:
        print(f"warning: {repeated} steps were completed more than once", file=sys.stderr)
    return repeated


# profiling ----------------------------------------------------------------------------


@contextlib.contextmanager
def profiled(kind: str | None, out: str | None) -> Any:
    """Profile the event-loop thread of this process (not the SQLite writer thread)."""
    if kind is None:
        yield
        return
    if kind == "pyinstrument":
        try:
            from pyinstrument import Profiler  # type: ignore[import-not-found]
        except ImportError:
            raise SystemExit(
                "--profile pyinstrument needs pyinstrument (pip install pyinstrument)"
            ) from None
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            _report(text, out)
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        buffer = io.StringIO()
        stats = pstats.Stats(profile, stream=buffer)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        if out is not None and out.endswith((".prof", ".pstats")):
            stats.dump_stats(out)
            out = None
        _report(buffer.getvalue(), out)


def _report(text: str, out: str | None) -> None:
    if out is None:
        sys.stderr.write(text)
    else:
        Path(out).write_text(text)


@contextlib.asynccontextmanager
async def observed(runtime: Runtime, telemetry: str) -> AsyncIterator[None]:
    """``--telemetry``: none, metrics, or metrics and spans (exported nowhere)."""
    if telemetry == "off":
        yield
        return
    from podium.telemetry import Telemetry

    provider = None
    if telemetry == "traces":
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Nowhere(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Nowhere()))
    Telemetry(tracer_provider=provider).attach(runtime)
    try:
        yield
    finally:
        if provider is not None:
            provider.shutdown()


# workloads ----------------------------------------------------------------------------


async def sequential(
    store: Store, spec: Durable, args: argparse.Namespace
) -> dict[str, Any]:
    """W1, W3: one workflow at a time; the latency of each."""
    definition = podium.load(spec.workload.document)
    async with Runtime(store=store) as runtime, observed(runtime, args.telemetry):

        async def once() -> tuple[str, float]:
            begin = time.perf_counter()
            handle = await runtime.start(definition, spec.workload.input)
            execution = await handle.result()
            elapsed = time.perf_counter() - begin
            if execution.status != "completed":
                raise SystemExit(f"{execution.id} {execution.status}: {execution.error!r}")
            return execution.id, elapsed

        for _ in range(args.warmup):
            await once()
        ids, latencies = [], []
        with profiled(args.profile, args.profile_out):
            begin = time.perf_counter()
            for _ in range(args.runs):
                instance_id, latency = await once()
                ids.append(instance_id)
                latencies.append(latency)
            seconds = time.perf_counter() - begin
    repeated = await check(store, spec, ids)
    return _result(spec, len(ids), seconds, latencies, workers=0, repeated=repeated)


async def concurrent(store: Store, spec: Durable, args: argparse.Namespace) -> dict[str, Any]:
    """W2 in this process: ``--workflows`` starts at once, then their results."""
    definition = podium.load(spec.workload.document)
    async with Runtime(store=store) as runtime, observed(runtime, args.telemetry):

        async def once() -> tuple[str, float]:
            begin = time.perf_counter()
            handle = await runtime.start(definition, spec.workload.input)
            execution = await handle.result()
            if execution.status != "completed":
                raise SystemExit(f"{execution.id} {execution.status}: {execution.error!r}")
            return execution.id, time.perf_counter() - begin

        async def wave(count: int) -> list[tuple[str, float]]:
            return await asyncio.gather(*(once() for _ in range(count)))

        if args.warmup:
            await wave(min(args.warmup, args.workflows))
        with profiled(args.profile, args.profile_out):
            begin = time.perf_counter()
            done = await wave(args.workflows)
            seconds = time.perf_counter() - begin
    repeated = await check(store, spec, [instance_id for instance_id, _ in done])
    latencies = [latency for _, latency in done]
    return _result(spec, len(done), seconds, latencies, workers=0, repeated=repeated)


async def with_workers(store: Store, spec: Durable, args: argparse.Namespace) -> dict[str, Any]:
    """W2 with worker processes: instances created pending, claimed from the store."""
    if args.profile and args.profile != "cprofile":
        raise SystemExit("with --workers, only --profile cprofile (of each worker) is available")
    definition = podium.load(spec.workload.document)
    async with Runtime(store=store, worker_id="bench-creator") as runtime:
        created = await asyncio.gather(
            *(runtime.create_instance(definition, spec.workload.input)
              for _ in range(args.workflows))
        )
    ids = [record.id for record, _ in created]
    profile_out = None
    if args.profile:
        profile_out = args.profile_out or "bench-worker-profile.txt"
    workers = await _spawn(store.url, args.workers, args.concurrency, profile_out, args.gc)
    try:
        begin = time.perf_counter()
        for process in workers:
            _tell(process, "go")
        deadline = begin + args.timeout
        while (ended := await count_ended(store, ids)) < len(ids):
            if time.perf_counter() > deadline:
                raise SystemExit(f"timed out: {ended} of {len(ids)} instances ended")
            await asyncio.sleep(args.poll)
        seconds = time.perf_counter() - begin
    finally:
        reports = await _stop(workers)
    repeated = await check(store, spec, ids)
    latencies = []
    for instance_id in ids:
        record = await store.get_instance(instance_id)
        assert record is not None and record.started_at and record.ended_at
        latencies.append((record.ended_at - record.started_at).total_seconds())
    result = _result(spec, len(ids), seconds, latencies, workers=args.workers,
                     repeated=repeated)
    result["concurrency_per_worker"] = args.concurrency
    # CPU seconds each worker spent from "go" to "stop", per workflow it ran (all
    # of them, split evenly: the claims spread them), and its peak RSS.
    result["worker_cpu_ms_per_workflow"] = [
        round(report["cpu"] * 1000 * args.workers / len(ids), 3) for report in reports]
    result["worker_peak_rss_mb"] = [report["rss"] for report in reports]
    return result


async def _spawn(
    url: str, count: int, concurrency: int, profile_out: str | None, gc_mode: str
) -> list[asyncio.subprocess.Process]:
    """Worker processes that have opened the store and wait for ``go``; each writes
    its profile to ``profile_out`` suffixed with its index, when given."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(REPO), os.environ.get("PYTHONPATH", "")]))}
    processes = []
    for index in range(count):
        profiling = ["--profile-out", f"{profile_out}.{index}"] if profile_out else []
        processes.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker", "--store", url, "--id", f"bench-{index}",
            "--concurrency", str(concurrency), "--gc", gc_mode, *profiling,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO, env=env,
        ))
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        if line.strip() != b"ready":
            await _stop(processes)
            raise SystemExit(f"a worker did not start (said {line!r})")
    return processes


def _tell(process: asyncio.subprocess.Process, word: str) -> None:
    assert process.stdin is not None
    with contextlib.suppress(ConnectionError):
        process.stdin.write(f"{word}\n".encode())


async def _stop(processes: Sequence[asyncio.subprocess.Process]) -> list[dict[str, float]]:
    """Stop the workers; what each said it used (``cpu S rss MB``), where it said so."""
    for process in processes:
        _tell(process, "stop")
    reports = []
    for process in processes:
        try:
            said, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()
            continue
        for line in said.decode().splitlines():
            if line.startswith("cpu "):
                _, cpu, _, rss = line.split()
                reports.append({"cpu": float(cpu), "rss": float(rss)})
    return reports


def _result(
    spec: Durable, workflows: int, seconds: float, latencies: Sequence[float], *,
    workers: int, repeated: int
) -> dict[str, Any]:
    ms = sorted(latency * 1000 for latency in latencies)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return {
        "workflows": workflows,
        "steps_per_workflow": spec.steps,
        "workers": workers,
        "seconds": round(seconds, 4),
        "workflows_per_s": round(workflows / seconds, 1),
        "steps_per_s": round(workflows * spec.steps / seconds, 1),
        "latency_ms_median": round(statistics.median(ms), 3),
        "latency_ms_p90": round(cuts[89], 3),
        "latency_ms_p99": round(cuts[98], 3),
        "latency_ms_min": round(ms[0], 3),
        "repeated_step_completions": repeated,
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    spec = DURABLE[args.workload]()
    runner: Callable[[Store, Durable, argparse.Namespace], Awaitable[dict[str, Any]]]
    runner = sequential
    if args.workload == "W2":
        runner = with_workers if args.workers else concurrent
    async with opened_store(args.store) as store:
        guarantee = await durability(store)
        result = await runner(store, spec, args)
        url = store.url
    return {
        "workload": args.workload,
        "description": spec.workload.description,
        "store": redact(url),
        "durability": guarantee,
        "telemetry": args.telemetry,
        "gc": args.gc,
        **result,
        "python": platform.python_version(),
        "podium": podium.__version__,
        # this process's high-water mark (with --workers: not the workers')
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=sorted(DURABLE), type=str.upper)
    parser.add_argument("--store", help="store URL (default: a new temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=200,
                        help="W1/W3: measured workflows, one after the other (default: 200)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="workflows run first, not measured (default: 20)")
    parser.add_argument("--workflows", type=int, default=1000,
                        help="W2: workflows started at once (default: 1000)")
    parser.add_argument("--workers", type=int, default=0,
                        help="W2: worker processes claiming from the store (default: none,"
                        " everything runs in this process)")
    parser.add_argument("--concurrency", type=int, default=250,
                        help="W2 --workers: instances each worker runs at once (default: 250)")
    parser.add_argument("--poll", type=float, default=0.02,
                        help="W2 --workers: seconds between completion counts (default: 0.02)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="W2 --workers: give up after this many seconds (default: 600)")
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"),
                        help="profile the measured part (this process's event-loop thread;"
                        " with --workers: each worker, cprofile only)")
    parser.add_argument("--profile-out", metavar="FILE",
                        help="write the profile report here (.prof/.pstats: cProfile data;"
                        " with --workers: FILE.0, FILE.1, ...)")
    parser.add_argument("--telemetry", choices=("off", "metrics", "traces"), default="off",
                        help="attach podium.telemetry to the measured runtime (in this"
                        " process): metrics, or metrics and spans (default: off)")
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned",
                        help="the garbage collector as `podium worker|serve|run` set it"
                        " once started (podium.guards.tune_garbage_collector), or CPython's"
                        " defaults (default: tuned)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.workflows < 1 or args.warmup < 0 or args.workers < 0:
        parser.error("--runs and --workflows must be at least 1, --warmup and --workers >= 0")
    if args.workers and args.workload != "W2":
        parser.error("--workers applies to W2 only")
    if args.gc == "tuned":
        tune_garbage_collector()  # after the imports, as the commands do after start-up
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result), flush=True)
        return
    workers = f", {result['workers']} workers" if result["workers"] else ""
    print(
        f"{result['workload']}  {result['store']}  ({result['durability']}{workers})\n"
        f"  {result['workflows']} workflows x {result['steps_per_workflow']} steps"
        f" in {result['seconds']:.3f} s: {result['workflows_per_s']:,.1f} workflows/s,"
        f" {result['steps_per_s']:,.0f} steps/s\n"
        f"  latency ms: median {result['latency_ms_median']:.3f}"
        f"  p90 {result['latency_ms_p90']:.3f}  p99 {result['latency_ms_p99']:.3f}"
        f"  min {result['latency_ms_min']:.3f}"
        + (f"\n  steps completed more than once: {result['repeated_step_completions']}"
           if result["repeated_step_completions"] else ""),
        flush=True,
    )
