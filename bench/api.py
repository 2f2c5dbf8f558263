"""The HTTP API's throughput: ``python -m bench api [--store URL] [--seconds N]
[--connections N] [--client wrk|httpx] [--worker] [--json]``.

A real ``podium serve`` process (uvicorn, one process, ``--no-worker`` unless
``--worker``) over a store (default: a new SQLite file in a temporary
directory); a load generator on the same machine keeps ``--connections``
requests in flight for ``--seconds`` per workload:

- ``starts``: ``POST /api/v1/instances`` of a deployed one-task workflow
  (a new instance each, no idempotency key);
- ``events``: ``POST /api/v1/events``, one structured CloudEvent each (a new id
  each);
- ``batches``: ``POST /api/v1/events``, a batch of ``--batch`` (100) events each.

Reported per workload: requests/s and items/s accepted (2xx), latency p50/p99,
refused requests, and the rows found in the store afterwards (every accepted
start is an instance, every accepted event is in the inbox). The load generator
is ``wrk`` when installed (``apt-get install wrk``; C, so it leaves the CPU to the
server), else an httpx loop in this process (which competes with the server for
the CPU: its numbers are a lower bound).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

import podium
from bench.durable import _fetch, durability, opened_store

WORKLOADS = ("starts", "events", "batches")

GREET = """\
document: {dsl: '1.0.3', namespace: bench, name: greet, version: '1.0.0'}
do:
  - hello: {set: {message: hi}}
"""

START_BODY = '{"workflow": "bench/greet", "input": {"n": 1}}'

# wrk: one Lua state per thread; `tid` tells the threads' event ids apart, `run`
# the runs' (the inbox keeps one event per source+id).
_LUA_COMMON = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
end
local function event()
  counter = counter + 1
  return '{"specversion":"1.0","id":"' .. tid .. '-' .. counter ..
    '","source":"bench-RUN","type":"bench.ping","data":{"n":' .. counter .. '}}'
end
"""

_LUA = {
    "starts": """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = 'START'
""",
    "events": _LUA_COMMON + """
function request()
  return wrk.format("POST", nil, {["Content-Type"] = "application/cloudevents+json"}, event())
end
""",
    "batches": _LUA_COMMON + """
function request()
  local parts = {}
  for i = 1, BATCH do parts[i] = event() end
  return wrk.format("POST", nil, {["Content-Type"] = "application/cloudevents-batch+json"},
                    "[" .. table.concat(parts, ",") .. "]")
end
""",
}

PATHS = {"starts": "/api/v1/instances", "events": "/api/v1/events", "batches": "/api/v1/events"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(url: str, port: int, worker: bool, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from podium.cli import main; main()", "serve",
               "--store", url, "--port", str(port)]
    if not worker:
        command.append("--no-worker")
    env = {**os.environ, "PODIUM_API_TOKENS": ""}
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)


def wait_until_serving(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"podium serve exited ({server.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("podium serve did not answer within 60 s")


_SCALE = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _SCALE[unit]


def with_wrk(url: str, script: str, seconds: float, connections: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        threads = max(1, min(2, connections))
        completed = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
             "--timeout", "30s", "-s", file.name, url],
            capture_output=True, text=True, check=True)
    finally:
        os.unlink(file.name)
    out = completed.stdout
    total, elapsed = re.search(r"(\d+) requests in ([\d.]+\w+)", out).groups()  # type: ignore[union-attr]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": int(total),
        "seconds": _millis(elapsed) / 1000,
        "refused": int(refused.group(1)) if refused else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
        "latency_ms_p50": _millis(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "latency_ms_p99": _millis(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
    }


async def with_httpx(url: str, bodies: Any, content_type: str, seconds: float,
                     connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    refused = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def loop(worker: int) -> None:
            nonlocal refused
            count = 0
            while time.perf_counter() < deadline:
                count += 1
                began = time.perf_counter()
                response = await client.post(url, content=bodies(worker, count),
                                             headers={"Content-Type": content_type})
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code >= 300:
                    refused += 1

        began = time.perf_counter()
        await asyncio.gather(*(loop(worker) for worker in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies), "seconds": elapsed, "refused": refused,
        "socket_errors": None,
        "latency_ms_p50": statistics.median(latencies),
        "latency_ms_p99": latencies[int(len(latencies) * 0.99) - 1],
    }


def _event(run: str, worker: int, count: int, index: int = 0) -> str:
    return json.dumps({"specversion": "1.0", "id": f"{worker}-{count}-{index}",
                       "source": f"bench-{run}", "type": "bench.ping", "data": {"n": count}})


async def measure(workload: str, base: str, run: str, seconds: float, connections: int,
                  batch: int, client: str) -> dict[str, Any]:
    url = base + PATHS[workload]
    per_request = batch if workload == "batches" else 1
    if client == "wrk":
        script = (_LUA[workload].replace("START", START_BODY).replace("RUN", run)
                  .replace("BATCH", str(batch)))
        result = await asyncio.to_thread(with_wrk, url, script, seconds, connections)
    else:
        if workload == "starts":
            def bodies(worker: int, count: int) -> str:
                return START_BODY
            content_type = "application/json"
        elif workload == "events":
            def bodies(worker: int, count: int) -> str:
                return _event(run, worker, count)
            content_type = "application/cloudevents+json"
        else:
            def bodies(worker: int, count: int) -> str:
                return "[" + ",".join(_event(run, worker, count, i) for i in range(batch)) + "]"
            content_type = "application/cloudevents-batch+json"
        result = await with_httpx(url, bodies, content_type, seconds, connections)
    accepted = result["requests"] - result["refused"]
    return {
        "workload": workload,
        **result,
        "items_per_request": per_request,
        "requests_per_s": round(accepted / result["seconds"], 1),
        "items_per_s": round(accepted * per_request / result["seconds"], 1),
        "accepted_items": accepted * per_request,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    client = args.client or ("wrk" if shutil.which("wrk") else "httpx")
    with tempfile.TemporaryDirectory(prefix="podium-bench-api-") as directory:
        url = args.store or f"sqlite:///{directory}/bench.db"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(directory) / "serve.log"
        async with opened_store(url) as store:  # migrated before the server opens it
            durable = await durability(store)
        server = serve(url, port, args.worker, log)
        try:
            await asyncio.to_thread(wait_until_serving, base, server, log)
            async with httpx.AsyncClient(timeout=10) as setup:
                deployed = await setup.post(f"{base}/api/v1/definitions", content=GREET)
                deployed.raise_for_status()
            results = []
            for workload in args.workloads:
                run_id = uuid.uuid4().hex[:8]
                result = await measure(workload, base, run_id, args.seconds, args.connections,
                                       args.batch, client)
                async with opened_store(url) as store:
                    if workload == "starts":
                        rows = await _fetch(store, "SELECT COUNT(*) FROM podium_instances "
                                                   "WHERE namespace = 'bench'")
                    else:
                        rows = await _fetch(store, "SELECT COUNT(*) FROM podium_events "
                                                   "WHERE source = ?", (f"bench-{run_id}",))
                result["stored"] = rows[0][0]
                results.append(result)
        finally:
            server.terminate()
            server.wait(30)
    return {
        "store": url if args.store else "sqlite (new temporary file)",
        "durability": durable,
        "server": "podium serve (one process)" + (" with its worker" if args.worker
                                                  else " --no-worker"),
        "client": client,
        "connections": args.connections,
        "seconds": args.seconds,
        "podium": podium.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": results,
    }


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="store URL (default: a new SQLite file)")
    parser.add_argument("--seconds", type=float, default=10, help="per workload")
    parser.add_argument("--connections", type=int, default=32, help="requests in flight")
    parser.add_argument("--batch", type=int, default=100, help="events per batch request")
    parser.add_argument("--client", choices=["wrk", "httpx"],
                        help="load generator (default: wrk if installed)")
    parser.add_argument("--worker", action="store_true",
                        help="run the embedded worker too (starts then also run)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report))
        return
    for name in ("store", "durability", "server", "client", "connections", "seconds"):
        print(f"{name:>12}: {report[name]}")
    print(f"{'workload':>10} {'req/s':>9} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'refused':>8} {'stored':>8}")
    for r in report["results"]:
        print(f"{r['workload']:>10} {r['requests_per_s']:>9,.0f} {r['items_per_s']:>9,.0f}"
              f" {r['latency_ms_p50']:>8.1f} {r['latency_ms_p99']:>8.1f} {r['refused']:>8}"
              f" {r['stored']:>8,}")
