"""``podium serve`` as a real process: the API and its embedded worker run a
started instance to completion; SIGTERM stops both (exit 0); an open API on a
non-loopback address is refused (exit 2)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.cli.support import COMMAND, eventually, invoke, serving, stop
from tests.server.conftest import GREET


def test_serve_runs_an_instance_with_its_worker_then_stops_on_sigterm(
    tmp_path: Path, store_url: str
) -> None:
    server, root = serving("--store", store_url)
    base = f"{root}/api/v1"
    try:
        assert httpx.post(f"{base}/definitions", content=GREET).status_code == 201
        started = httpx.post(f"{base}/instances", json={"workflow": "test/greet",
                                                        "input": {"x": 1}})
        assert started.status_code == 201, started.text
        instance_id = started.json()["id"]

        def completed() -> dict[str, Any] | None:
            shown: dict[str, Any] = httpx.get(f"{base}/instances/{instance_id}").json()
            return shown if shown["status"] == "completed" else None

        shown = eventually(completed, what="the instance to complete")
        assert shown["output"] == {"message": "hi"}
    finally:
        stderr = stop(server)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"serving {root}/api/v1" in stderr


def test_an_open_api_on_a_public_address_is_refused(tmp_path: Path) -> None:
    code, _, stderr = invoke("serve", "--host", "0.0.0.0", "--store",
                             f"sqlite:///{tmp_path / 'p.db'}", env={"PODIUM_API_TOKENS": ""})
    assert code == 2
    assert "no API token is configured" in " ".join(stderr.split())
    assert not (tmp_path / "p.db").exists()


def test_a_bad_tokens_file_exits_2_without_showing_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("s3cret:admin\n", encoding="utf-8")
    code, _, stderr = invoke("serve", "--tokens", tokens, env={"PODIUM_API_TOKENS": ""})
    assert code == 2 and "role 'admin'" in stderr and "s3cret" not in stderr


def test_the_cli_does_not_import_the_web_stack_until_serve() -> None:
    loaded = subprocess.run(
        [*COMMAND[:2], "import sys, podium.cli; "
         "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn'}))"],
        capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "[]"


def test_sigterm_ends_open_event_streams_and_exits_0(tmp_path: Path) -> None:
    """An open stream never ends by itself: the server's stop ends it, so the
    process does not wait for its clients to leave."""
    server, root = serving("--store", f"sqlite:///{tmp_path / 'p.db'}", "--no-worker")
    base = f"{root}/api/v1"
    try:
        # A read timeout below the 15 s ping: a stream left open fails the test.
        with httpx.stream("GET", f"{base}/instances/stream", timeout=10) as stream:
            assert stream.status_code == 200
            server.send_signal(signal.SIGTERM)
            assert list(stream.iter_lines()) == []  # closed by the server, no event
        _, stderr = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, stderr
