"""Worker processes for crash tests (``tests.support.worker_process``): started,
awaited until they are about to claim, killed with SIGKILL, and stopped at the
end of the test whatever happened."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.durability.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    worker_id: str
    log: Path

    def output(self) -> str:
        """What it wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """``kill -9``; reaped at once, so that the pid is gone (a zombie would still
        look alive to the dead-owner check of the next worker)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


class Workers:
    """Starts worker processes (``tests.support.worker_process``) and, at the end,
    stops whatever is still running."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[WorkerProcess] = []

    async def start(self, store_url: str, *arguments: str) -> WorkerProcess:
        """Start a worker and return once it is about to claim."""
        started, ready, log = self._spawn(store_url, arguments)

        async def is_ready() -> bool:
            if started.process.poll() is not None:
                raise AssertionError(f"a worker exited early:\n{log.read_text()}")
            return ready.exists() and bool(ready.read_text())

        await eventually(is_ready, within=20)
        started.worker_id = ready.read_text()
        return started

    def _spawn(
        self, store_url: str, arguments: tuple[str, ...]
    ) -> tuple[WorkerProcess, Path, Path]:
        number = len(self.started) + 1
        ready = self.directory / f"worker-{number}.ready"
        log = self.directory / f"worker-{number}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.worker_process", "--store", store_url,
                 "--ready", str(ready), *arguments],
                cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            )
        started = WorkerProcess(process, "", log)
        self.started.append(started)
        return started, ready, log

    def close(self) -> None:
        for started in self.started:
            if started.process.poll() is None:
                started.process.terminate()
                try:
                    started.process.wait(10)
                except subprocess.TimeoutExpired:
                    started.kill()

