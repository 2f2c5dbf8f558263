"""Running the CLI in tests: in this process (CliRunner) or as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from podium.cli import app
from tests.support.spec import REPO

EXAMPLES = REPO / "examples"
COMMAND = [sys.executable, "-c", "from podium.cli import main; main()"]


def workflow(tmp_path: Path, name: str, tasks: str, version: str = "0.1.0") -> Path:
    """A workflow file ``test/<name>:<version>`` whose ``do`` list is ``tasks``."""
    path = tmp_path / f"{name}-{version}.yaml"
    path.write_text(
        "document:\n  dsl: '1.0.3'\n  namespace: test\n"
        f"  name: {name}\n  version: '{version}'\ndo:\n{tasks}",
        encoding="utf-8",
    )
    return path


# A workflow that waits (awaited in memory by `run` and, under 5 s, by workers).
def pausing(tmp_path: Path, seconds: float = 2) -> Path:
    return workflow(tmp_path, "pause", f"""\
  - before:
      set: {{step: 1}}
  - pause:
      wait: PT{seconds:g}S
  - after:
      set: {{done: true}}
""")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI in this process: exit code, stdout, stderr."""
    result = CliRunner(env=env).invoke(app, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str | Path) -> str:
    """stdout of a command that must succeed."""
    code, stdout, stderr = invoke(*args)
    assert code == 0, stderr
    return stdout


def as_json(*args: str | Path) -> Any:
    return json.loads(ok(*args, "--json"))


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("FORCE_COLOR", "COLUMNS", "PODIUM_STORE")}
    return {**environ, "NO_COLOR": "1", **(extra or {})}


def podium(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter, to its end."""
    return subprocess.run(
        [*COMMAND, *map(str, args)], capture_output=True, text=True, encoding="utf-8",
        stdin=subprocess.DEVNULL, env=environment(), cwd=cwd, timeout=60,
    )


def spawn(*args: str | Path) -> subprocess.Popen[str]:
    """The CLI in a fresh interpreter, left running (a worker, a long run)."""
    return subprocess.Popen(
        [*COMMAND, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", stdin=subprocess.DEVNULL, env=environment(), cwd=REPO,
    )


def eventually(check: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str], timeout: float = 10) -> str:
    """SIGTERM to a spawned command, then its stderr once it exited (killed, and the
    test failed, when it outlives ``timeout``)."""
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return stderr


def serving(*args: str | Path) -> tuple[subprocess.Popen[str], str]:
    """``podium serve ARGS`` in a fresh interpreter on a free port, once its API
    answers: the process and its base URL (``http://127.0.0.1:PORT``)."""
    from tests.support.nats_server import free_port

    port = free_port()
    server = spawn("serve", *args, "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def health() -> bool:
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(health, what="the API to answer")
    except AssertionError:
        server.kill()
        raise
    return server, base


def instance(store: str, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = as_json("instances", "get", instance_id, "--store", store)
    return found


def history(store: str, instance_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = as_json(
        "instances", "history", instance_id, "--store", store
    )
    return entries


def status_is(store: str, instance_id: str, *statuses: str) -> Callable[[], bool]:
    return lambda: instance(store, instance_id)["status"] in statuses



def corrupt(store: str, table: str) -> None:
    """Write 2 KB of garbage over the first page of ``table`` in a SQLite store."""
    path = Path(store.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)
        ).fetchone()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(bytes((index * 151 + 7) % 256 for index in range(2048)))
