"""`--allow-run` on `podium run` and `podium worker`: over PODIUM_ALLOW_RUN."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.cli.support import eventually, instance, invoke, spawn, status_is, workflow


@pytest.fixture
def echo(tmp_path: Path) -> Path:
    return workflow(tmp_path, "echo", """\
  - hello:
      run:
        shell:
          command: echo hello
""")


@pytest.fixture(autouse=True)
def _no_allow_run_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_ALLOW_RUN", raising=False)


def test_refused_by_default(echo: Path) -> None:
    code, _, stderr = invoke("run", echo)
    assert code == 1
    problem = json.loads(stderr.strip().splitlines()[-1])
    assert problem["status"] == 403
    assert "--allow-run shell" in problem["detail"]


@pytest.mark.parametrize("kinds", ["shell", "script,shell", "all"])
def test_allowed_by_the_option(echo: Path, kinds: str) -> None:
    code, stdout, stderr = invoke("run", echo, "--allow-run", kinds)
    assert code == 0, stderr
    assert json.loads(stdout) == "hello"


def test_allowed_by_the_environment(echo: Path) -> None:
    code, stdout, _ = invoke("run", echo, env={"PODIUM_ALLOW_RUN": "shell"})
    assert (code, json.loads(stdout)) == (0, "hello")


def test_the_option_overrides_the_environment(echo: Path) -> None:
    code, _, stderr = invoke("run", echo, "--allow-run", "script",
                             env={"PODIUM_ALLOW_RUN": "shell"})
    assert code == 1
    assert json.loads(stderr.strip().splitlines()[-1])["status"] == 403


def test_allowed_on_a_store(echo: Path, sqlite: str) -> None:
    code, stdout, stderr = invoke("run", echo, "--store", sqlite, "--allow-run", "shell")
    assert code == 0, stderr
    assert json.loads(stdout) == "hello"


@pytest.mark.parametrize("command", ["run", "worker"])
def test_a_bad_option_exits_2(echo: Path, sqlite: str, command: str) -> None:
    args = ("run", echo) if command == "run" else ("worker", "--store", sqlite)
    code, _, stderr = invoke(*args, "--allow-run", "shell,bash")
    assert code == 2
    assert "--allow-run" in stderr and "bash" in stderr


def test_a_bad_environment_value_exits_2(echo: Path) -> None:
    code, _, stderr = invoke("run", echo, env={"PODIUM_ALLOW_RUN": "everything"})
    assert code == 2
    assert "PODIUM_ALLOW_RUN" in stderr and "everything" in stderr


def test_a_worker_runs_processes_it_is_allowed_to(echo: Path, sqlite: str) -> None:
    started = invoke("start", echo, "--store", sqlite)[1].strip()
    worker = spawn("worker", "--store", sqlite, "--allow-run", "shell")
    try:
        eventually(status_is(sqlite, started, "completed", "faulted"), what="the run ends")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.communicate(timeout=10)
        finally:
            worker.kill()
    assert instance(sqlite, started)["output"] == "hello"
