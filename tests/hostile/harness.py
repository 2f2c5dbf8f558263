"""Running podium as a user would, in a child process with limits, and checking that
it behaved: an expected exit code, never a traceback, never a crash by signal, never
raw terminal escapes on stderr, stdout strict JSON where a program reads it.

Every run is bounded in wall time and address space, so a hostile input that makes
podium loop or allocate fails the test instead of stalling or exhausting the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# What one podium command may use. Far above what a well-behaved run needs (about
# 100 MB), far below what the hostile inputs asked for before they were bounded.
MEMORY_LIMIT = 2 * 1024**3
TIME_LIMIT = 60.0


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float

    def __str__(self) -> str:
        return (
            f"podium {' '.join(a[:80] for a in self.args)} -> exit {self.code} "
            f"in {self.seconds:.1f}s\n--- stdout ---\n{self.stdout[-3000:]}"
            f"\n--- stderr ---\n{self.stderr[-3000:]}"
        )


# The limits are set by a tiny Python that then becomes the command (exec), not
# by a preexec_fn: forking this process (gRPC's threads run in it) to run Python
# in the child before exec can abort in gRPC's fork handlers.
_LIMITED = (
    "import os, resource, sys; m = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_AS, (m, m)); "
    # A core dump of a 2 GB process would take the test's time and the disk.
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


def limited(memory: int, *argv: str) -> list[str]:
    """``python ARGV...`` within ``memory`` bytes of address space."""
    return [sys.executable, "-c", _LIMITED, str(memory), *argv]


def podium(
    *args: str,
    stdin: str | None = None,
    timeout: float = TIME_LIMIT,
    memory: int = MEMORY_LIMIT,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> CliResult:
    """Run ``podium ARGS`` (the console entry point) in a child process with limits."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}
    environment.pop("PODIUM_STORE", None)
    environment.update(env or {})
    started = time.monotonic()
    process = subprocess.Popen(
        limited(memory, "-c", "from podium.cli import main; main()", *args),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=cwd or ROOT, env=environment, start_new_session=True,
    )
    try:
        out, err = process.communicate(stdin.encode() if stdin is not None else None, timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        result = CliResult(tuple(args), -9, out.decode(errors="replace"),
                           err.decode(errors="replace"), time.monotonic() - started)
        raise AssertionError(f"podium did not finish within {timeout:g}s:\n{result}") from None
    return CliResult(
        tuple(args), process.returncode, out.decode(errors="replace"),
        err.decode(errors="replace"), time.monotonic() - started,
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """Parse as JSON proper: NaN and Infinity are refused, as any JSON parser but
    Python's would."""
    return json.loads(text, parse_constant=_refuse_constant)


def behaved(result: CliResult, codes: Sequence[int]) -> CliResult:
    """Assert the run ended the way a user may rely on; return it for more checks."""
    assert result.code >= 0, f"killed by signal {-result.code}:\n{result}"
    assert result.code in codes, f"exit {result.code}, expected one of {list(codes)}:\n{result}"
    assert "Traceback (most recent call last)" not in result.stderr, str(result)
    assert "\x1b" not in result.stderr, f"raw terminal escape on stderr:\n{result}"
    if result.code == 1 and result.args[:1] == ("run",):
        # A faulted run ends with its RFC 7807 problem on the last line of stderr.
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        if last.startswith("{"):
            problem = strict_json(last)
            assert set(problem) >= {"type", "status", "title", "detail", "instance"}, last
    if result.code == 0 and result.args[:1] == ("run",):
        strict_json(result.stdout)
    return result


def problem_of(result: CliResult) -> dict[str, Any]:
    """The RFC 7807 problem a faulted ``podium run`` printed last."""
    last = result.stderr.strip().splitlines()[-1]
    problem: dict[str, Any] = strict_json(last)
    return problem


class HostileRunner:
    """A long-lived child process (``tests.hostile.runner``) that checks or runs one
    document per request, with the same limits as ``podium``: a crash, a hang or
    memory exhaustion of the child fails the example that caused it, and the next
    request starts a fresh child."""

    def __init__(self, memory: int = MEMORY_LIMIT, timeout: float = TIME_LIMIT) -> None:
        self.memory = memory
        self.timeout = timeout
        self._process: subprocess.Popen[str] | None = None

    def _child(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                limited(self.memory, "-m", "tests.hostile.runner"),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=ROOT, text=True, start_new_session=True,
            )
        return self._process

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        child = self._child()
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(request) + "\n")
        child.stdin.flush()
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(child.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(self.timeout)
        if reader.is_alive() or not ready or not ready[0]:
            hung = reader.is_alive()
            self.close()
            reason = f"did not answer within {self.timeout:g}s" if hung else (
                f"died (exit {child.returncode})")
            raise AssertionError(f"podium {reason} on:\n{request.get('text', '')[:4000]}")
        answer: dict[str, Any] = json.loads(ready[0])
        if "crash" in answer:
            raise AssertionError(
                f"an exception escaped the API:\n{answer['crash']}\non:\n"
                f"{request.get('text', '')[:4000]}"
            )
        return answer

    def close(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None
