"""``podium worker`` as a real process: it runs what is pending, logs one line per
instance start and end, and stops gracefully on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from tests.cli.support import (
    EXAMPLES,
    eventually,
    history,
    instance,
    invoke,
    ok,
    pausing,
    spawn,
    status_is,
)


def stop(worker: subprocess.Popen[str], within: float = 5) -> str:
    """SIGTERM; the worker must exit 0 within ``within`` seconds (else
    ``communicate`` raises). Returns its stderr."""
    worker.send_signal(signal.SIGTERM)
    try:
        stdout, stderr = worker.communicate(timeout=within)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    assert stdout == ""
    return stderr


def test_worker_runs_pending_instances_then_stops_on_sigterm(tmp_path: Path, store: str) -> None:
    started = {
        ok("start", EXAMPLES / "hello.yaml", "--input", '{"name": "Ada"}', "--store", store)
        .strip(): "completed",
        ok("start", EXAMPLES / "fault.yaml", "--input", '{"amount": -1}', "--store", store)
        .strip(): "faulted",
        ok("start", pausing(tmp_path, 0.5), "--store", store).strip(): "completed",
    }
    worker = spawn("worker", "--store", store, "--concurrency", "2", "--lease", "2",
                   "--worker-id", "test-worker")
    try:
        for instance_id, status in started.items():
            eventually(status_is(store, instance_id, status), what=f"{instance_id} {status}")
    finally:
        log = stop(worker)
    assert instance(store, next(iter(started)))["output"] == {"greeting": "Hello, Ada!"}
    assert "worker test-worker on" in log and "(concurrency 2, lease 2s)" in log
    for instance_id, status in started.items():
        assert re.search(rf"^\S+Z started {instance_id} \S+:0\.1\.0$", log, re.M), log
        assert re.search(rf"^\S+Z {status} {instance_id} .* in \d+ ms", log, re.M), log
    assert log.rstrip().endswith("worker test-worker stopped")


def test_sigterm_releases_what_is_running_for_the_next_worker(
    tmp_path: Path, sqlite: str
) -> None:
    instance_id = ok("start", pausing(tmp_path, 2), "--store", sqlite).strip()
    first = spawn("worker", "--store", sqlite, "--lease", "2")
    try:
        eventually(lambda: any(e["kind"] == "timer" for e in history(sqlite, instance_id)),
                   what="the timer")
    finally:
        log = stop(first)
    assert re.search(rf"^\S+Z released {instance_id} ", log, re.M), log
    record = instance(sqlite, instance_id)
    assert (record["status"], record["owner"]) == ("running", None)
    second = spawn("worker", "--store", sqlite, "--lease", "2")
    try:
        eventually(status_is(sqlite, instance_id, "completed"), what="the second worker")
    finally:
        log = stop(second)
    assert re.search(rf"^\S+Z resumed {instance_id} ", log, re.M), log


def test_cancel_reaches_the_worker_running_the_instance(tmp_path: Path, sqlite: str) -> None:
    instance_id = ok("start", pausing(tmp_path, 4), "--store", sqlite).strip()
    worker = spawn("worker", "--store", sqlite, "--lease", "1.5")
    try:
        eventually(status_is(sqlite, instance_id, "running"), what="the worker")
        code, stdout, stderr = invoke("instances", "cancel", instance_id, "--store", sqlite)
        assert (code, stdout) == (0, "running\n")
        assert "cancel requested" in stderr
        eventually(status_is(sqlite, instance_id, "cancelled"), timeout=5, what="the cancel")
    finally:
        log = stop(worker)
    assert re.search(rf"^\S+Z cancelled {instance_id} ", log, re.M), log
    assert "task.completed" not in {
        e["kind"] for e in history(sqlite, instance_id) if e["position"] == "/do/2/after"
    }
