"""The suite cannot hang: a test that overruns its timeout fails and the run goes
on; one that cannot even be interrupted ends the run, with its stack on stderr.

Each case runs pytest in a subprocess on a small generated test file, with the
suite's own settings (pytest-timeout's ``signal`` method and the hang guard)
and limits of a few seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.spec import REPO

CONFIG = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
timeout = 2
timeout_method = signal
hang_guard_grace = 3
hang_guard_exit = 3
"""


def run_pytest(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["tests.support.hang_guard"]\n', encoding="utf-8"
    )
    (tmp_path / "test_hanging.py").write_text(tests, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_TIMEOUT", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hanging.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=90,
    )


def test_a_hung_async_test_and_a_hung_thread_fail_and_the_run_goes_on(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, """
import asyncio, queue, threading

async def test_awaits_forever():
    await asyncio.Event().wait()

def test_blocks_on_a_thread_forever():
    thread = threading.Thread(target=threading.Event().wait, daemon=True)
    thread.start()
    thread.join()

def test_blocks_on_a_queue_forever():
    queue.Queue().get()

def test_after_them():
    pass
""")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "3 failed, 1 passed" in result.stdout, result.stdout
    for name in ("test_awaits_forever", "test_blocks_on_a_thread_forever",
                 "test_blocks_on_a_queue_forever"):
        assert f"FAILED test_hanging.py::{name} - Failed: Timeout" in result.stdout


def test_a_test_that_holds_the_gil_ends_the_run_with_its_stack(tmp_path: Path) -> None:
    # libjq runs this loop in C, the GIL held: no signal handler ever runs.
    result = run_pytest(tmp_path, """
import jq

def test_passes_first():
    pass

def test_holds_the_gil():
    jq.compile("until(false; .)").input_value(1).first()

def test_never_reached():
    pass
""")
    assert result.returncode == 1
    assert "Timeout (" in result.stderr
    assert 'test_hanging.py", line 8 in test_holds_the_gil' in result.stderr, result.stderr


def test_a_teardown_stuck_after_a_timeout_ends_the_run(tmp_path: Path) -> None:
    # The timeout fails the test; closing its event loop then joins the default
    # executor's thread, which never ends.
    result = run_pytest(tmp_path, """
import asyncio, threading

async def test_waits_on_a_thread_forever():
    await asyncio.get_running_loop().run_in_executor(None, threading.Event().wait)
""")
    assert result.returncode == 1
    assert "Timeout (" in result.stderr
    assert "shutdown_default_executor" in result.stderr or "_do_shutdown" in result.stderr


def test_an_exit_stuck_on_a_thread_ends_the_run(tmp_path: Path) -> None:
    # Every test passed, but a non-daemon thread keeps the interpreter from exiting.
    result = run_pytest(tmp_path, """
import threading

STUCK = threading.Event()

def test_leaves_a_thread_behind():
    threading.Thread(target=STUCK.wait).start()
""")
    assert "1 passed" in result.stdout
    assert result.returncode == 1
    assert "Timeout (" in result.stderr
