"""``podium worker`` as a real process: it runs what is pending, logs one line per
instance start and end, and stops gracefully on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.cli.support import (
    EXAMPLES,
    corrupt,
    eventually,
    history,
    instance,
    invoke,
    ok,
    pausing,
    spawn,
    status_is,
    workflow,
)
from tests.support.counting_server import CountingServer


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
    # A fault names its title, its detail and the task that raised it.
    faulted = next(i for i, status in started.items() if status == "faulted")
    assert re.search(
        rf"^\S+Z faulted {faulted} examples/fault:0\.1\.0 in \d+ ms: Invalid amount:"
        r" amount must not be negative, got -1 \(at /do/1/reject\)$", log, re.M), log
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
    # Its duration counts from its first start (2 s of waiting at least), not from
    # the second worker's part of it.
    took = re.search(rf"^\S+Z completed {instance_id} \S+ in (\d+\.\d) s$", log, re.M)
    assert took is not None and float(took[1]) >= 2, log


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


def test_sigterm_stops_a_worker_within_seconds_during_a_wait_and_a_call(
    tmp_path: Path, sqlite: str
) -> None:
    with CountingServer() as server:
        waiting = ok("start", pausing(tmp_path, 4.5), "--store", sqlite).strip()
        calling = ok("start", workflow(tmp_path, "call", f"""\
  - slow:
      call: http
      with: {{method: get, endpoint: '{server.url}/ok/slow?delay=60'}}
"""), "--store", sqlite).strip()
        worker = spawn("worker", "--store", sqlite)
        try:
            eventually(lambda: any(e["kind"] == "timer" for e in history(sqlite, waiting)),
                       what="the wait")
            eventually(lambda: server.named("slow"), what="the call")
        finally:
            log = stop(worker, within=5)
    for instance_id in (waiting, calling):
        assert re.search(rf"^\S+Z released {instance_id} ", log, re.M), log
        record = instance(sqlite, instance_id)
        assert (record["status"], record["owner"]) == ("running", None)


def test_a_parked_instance_logs_its_wake_time_in_utc(tmp_path: Path, sqlite: str) -> None:
    instance_id = ok("start", pausing(tmp_path, 30), "--store", sqlite).strip()
    worker = spawn("worker", "--store", sqlite)
    try:
        eventually(status_is(sqlite, instance_id, "waiting"), what="the park")
    finally:
        log = stop(worker)
    assert re.search(
        rf"^\S+Z waiting {instance_id} \S+ until \d{{4}}-\S+T\S+\.\d{{3}}Z$", log, re.M
    ), log


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--stall-limit", "soon", "use seconds"),
        ("--stall-limit", "1", "at least 2 seconds"),
        ("--max-memory", "lots", "use a size such as 512M"),
        ("--max-memory", "10M", "leaves no room"),
        ("--max-crashes", "0", "--max-crashes"),
    ],
)
def test_bad_guard_options_exit_2(sqlite: str, option: str, value: str, says: str) -> None:
    code, stdout, stderr = invoke("worker", "--store", sqlite, option, value)
    assert (code, stdout) == (2, "")
    assert says in stderr


def test_max_memory_caps_the_workers_address_space(sqlite: str) -> None:
    instance_id = ok("start", EXAMPLES / "hello.yaml", "--store", sqlite).strip()
    worker = spawn("worker", "--store", sqlite, "--max-memory", "3G")
    try:
        # Under the cap, it works as ever.
        eventually(status_is(sqlite, instance_id, "completed"), what="the worker")
        limits = _limit(worker.pid, "Max address space")
    finally:
        stop(worker)
    assert limits is not None
    assert limits.split()[:2] == [str(3 * 1024**3), "unlimited"]


def _limit(pid: int, name: str) -> str | None:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith(name):
            value = line[len(name):].strip()
            return value if not value.startswith("unlimited") else None
    return None


def test_a_worker_refuses_a_corrupt_store(sqlite: str) -> None:
    """Garbage where no claim looks (the journals of ended instances): without a
    check the worker would idle on the corrupt file as if all were well."""
    for _ in range(10):
        invoke("run", EXAMPLES / "hello.yaml", "--store", sqlite)
    corrupt(sqlite, "podium_journal")
    worker = spawn("worker", "--store", sqlite)
    try:
        stdout, stderr = worker.communicate(timeout=20)
    finally:
        worker.kill()
    assert (worker.returncode, stdout) == (2, ""), stderr
    assert "error: the store is corrupt: " in stderr
    assert "podium store check" in stderr
    assert "Traceback" not in stderr
