"""``podium run --store``: the same contract as in memory, with the instance
recorded and journaled, so that ``podium worker`` finishes an interrupted run."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.cli.support import (
    EXAMPLES,
    as_json,
    eventually,
    history,
    instance,
    invoke,
    ok,
    pausing,
    spawn,
    status_is,
)


def newest(store: str) -> str | None:
    listed = as_json("instances", "list", "--limit", "1", "--store", store)
    return listed[0]["id"] if listed else None


def test_run_with_a_store_journals_every_task(store: str) -> None:
    code, stdout, stderr = invoke("run", EXAMPLES / "hello.yaml", "--input", '{"name": "Ada"}',
                                  "--store", store)
    assert (code, json.loads(stdout), stderr) == (0, {"greeting": "Hello, Ada!"}, "")
    instance_id = newest(store)
    assert instance_id is not None
    record = instance(store, instance_id)
    assert (record["status"], record["output"]) == ("completed", {"greeting": "Hello, Ada!"})
    kinds = [(e["position"], e["kind"]) for e in history(store, instance_id)]
    assert ("/do/0/greet", "task.completed") in kinds


def test_a_fault_keeps_its_contract_and_is_recorded(sqlite: str) -> None:
    code, stdout, stderr = invoke("run", EXAMPLES / "fault.yaml", "--input", '{"amount": -5}',
                                  "--store", sqlite)
    assert (code, stdout) == (1, "")
    problem = json.loads(stderr.splitlines()[-1])
    assert problem["instance"] == "/do/1/reject"
    instance_id = newest(sqlite)
    assert instance_id is not None
    assert instance(sqlite, instance_id)["error"] == problem
    assert "task.faulted" in {e["kind"] for e in history(sqlite, instance_id)}


def test_podium_store_in_the_environment(sqlite: str) -> None:
    code, stdout, _ = invoke("run", EXAMPLES / "hello.yaml", env={"PODIUM_STORE": sqlite})
    assert (code, json.loads(stdout)) == (0, {"greeting": "Hello, world!"})
    assert newest(sqlite) is not None


def test_without_a_store_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PODIUM_STORE", raising=False)
    assert json.loads(ok("run", EXAMPLES / "hello.yaml")) == {"greeting": "Hello, world!"}
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_document_is_refused_before_the_store_is_touched(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("document: {}\n", encoding="utf-8")
    code, stdout, _ = invoke("run", path, "--store", f"sqlite:///{tmp_path / 'podium.db'}")
    assert (code, stdout) == (2, "")
    assert not (tmp_path / "podium.db").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_run_is_finished_by_a_worker(
    tmp_path: Path, sqlite: str, signum: signal.Signals
) -> None:
    run = spawn("run", pausing(tmp_path, 2), "--store", sqlite)
    try:
        instance_id = eventually(lambda: newest(sqlite), what="the instance")
        eventually(lambda: any(e["kind"] == "timer" for e in history(sqlite, instance_id)),
                   what="the timer")
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=10)
    finally:
        run.kill()
    if signum == signal.SIGINT:
        assert run.returncode == 130
        assert f"instance {instance_id} is left for `podium worker`" in stderr
        record = instance(sqlite, instance_id)
        assert (record["status"], record["owner"]) == ("running", None)
    worker = spawn("worker", "--store", sqlite)
    try:
        eventually(status_is(sqlite, instance_id, "completed"), what="the worker to finish")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.communicate(timeout=10)
        finally:
            worker.kill()
    assert instance(sqlite, instance_id)["output"] == {"done": True}
    timers = [e for e in history(sqlite, instance_id) if e["kind"] == "timer"]
    assert len(timers) == 1  # the worker kept the original due time


def test_a_run_suspended_from_elsewhere_exits_3(tmp_path: Path, sqlite: str) -> None:
    # The suspension is relayed within a third of the lease (10 s) and takes hold at
    # the next task, after the wait: the run parks the instance and exits 3.
    run = spawn("run", pausing(tmp_path, 4.5), "--store", sqlite)
    try:
        instance_id = eventually(lambda: newest(sqlite), what="the instance")
        assert ok("instances", "suspend", instance_id, "--store", sqlite) == "running\n"
        stdout, stderr = run.communicate(timeout=20)
    finally:
        run.kill()
    assert (run.returncode, stdout) == (3, "")
    assert f"suspended: instance {instance_id} is not finished" in stderr
    assert instance(sqlite, instance_id)["status"] == "suspended"
    assert ok("instances", "resume", instance_id, "--store", sqlite) == "pending\n"


def test_a_bad_stall_limit_is_refused_before_anything_runs(sqlite: str) -> None:
    code, stdout, stderr = invoke("run", EXAMPLES / "hello.yaml", "--store", sqlite,
                                  "--stall-limit", "soon")
    assert (code, stdout) == (2, "")
    assert "--stall-limit 'soon'" in stderr
    assert as_json("instances", "list", "--store", sqlite) == []


def test_a_recorded_run_under_the_stall_watchdog_completes(sqlite: str) -> None:
    code, stdout, _ = invoke("run", EXAMPLES / "hello.yaml", "--input", '{"name": "Ada"}',
                             "--store", sqlite, "--stall-limit", "5")
    assert (code, json.loads(stdout)) == (0, {"greeting": "Hello, Ada!"})
