"""`podium run --store` with a runaway expression (issue 7, item 4): the task
timeout fires and SIGTERM is honoured within seconds, instead of a process
frozen at 100 % CPU for ten minutes."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.cli.support import eventually, invoke, spawn, workflow

SPIN = """\
  - spin:
{timeout}      set:
        v: '${{ until(false; .) }}'
"""


def test_a_task_timeout_fires_around_a_runaway_expression(tmp_path: Path) -> None:
    path = workflow(tmp_path, "spin", SPIN.format(timeout="      timeout:\n        after: PT1S\n"))
    began = time.monotonic()
    run = spawn("run", path, "--store", f"sqlite:///{tmp_path / 'podium.db'}")
    try:
        stdout, stderr = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 1, stderr
    assert stdout == ""
    error = json.loads(stderr.strip().splitlines()[-1])
    assert error["type"].endswith("/errors/timeout")
    assert error["instance"] == "/do/0/spin"
    assert time.monotonic() - began < 9  # not the expression's 10 s budget


def test_sigterm_is_honoured_during_a_runaway_expression(tmp_path: Path) -> None:
    path = workflow(tmp_path, "spin", SPIN.format(timeout=""))
    database = tmp_path / "podium.db"
    run = spawn("run", path, "--store", f"sqlite:///{database}")
    try:
        # Started (signals are handled from the moment its instance is recorded;
        # a loaded machine may take seconds to get there), then spinning.
        eventually(lambda: _recorded(database), 30, "the instance to be recorded")
        time.sleep(1)
        assert run.poll() is None
        signalled = time.monotonic()
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=30)
        stopped = time.monotonic() - signalled
    finally:
        run.kill()
    assert run.returncode == 130, stderr
    assert "left for `podium worker`" in stderr
    assert stopped < 8  # a few seconds, not the expression's 10 s budget


def test_the_operator_sets_the_expression_budget(tmp_path: Path) -> None:
    path = workflow(tmp_path, "spin", SPIN.format(timeout=""))
    code, stdout, stderr = invoke("run", path, env={"PODIUM_EXPRESSION_TIMEOUT": "1"})
    assert (code, stdout) == (1, "")
    error = json.loads(stderr.strip().splitlines()[-1])
    assert error["type"].endswith("/errors/timeout")
    assert "did not finish within its 1s budget" in error["detail"]


@pytest.mark.parametrize("value", ["soon", "0", "-1", "1e9"])
@pytest.mark.parametrize("command", ["run", "worker", "start"])
def test_a_bad_expression_budget_is_a_usage_error(
    tmp_path: Path, value: str, command: str
) -> None:
    path = workflow(tmp_path, "spin", SPIN.format(timeout=""))
    args = [path] if command != "worker" else []
    code, _, stderr = invoke(command, *args, "--store", f"sqlite:///{tmp_path / 'p.db'}",
                             env={"PODIUM_EXPRESSION_TIMEOUT": value})
    assert code == 2
    assert f"PODIUM_EXPRESSION_TIMEOUT: '{value}'" in stderr
    assert "Traceback" not in stderr


def _recorded(database: Path) -> bool:
    if not database.exists():
        return False
    try:
        with sqlite3.connect(database, timeout=1) as connection:
            (count,) = connection.execute("SELECT count(*) FROM podium_instances").fetchone()
    except sqlite3.Error:  # not migrated yet
        return False
    return bool(count)
