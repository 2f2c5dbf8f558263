"""Running jq programs that may not end, or may exhaust memory, out of process.

libjq holds the GIL for a whole evaluation and aborts its process when malloc
fails, so a runaway program cannot be stopped in-process. Programs the
classifier (``podium.expressions.classify``) calls unbounded run here instead,
in a small pool of long-lived child processes (``_child.py``), one evaluation at
a time per child:

- each child limits its address space to the memory budget and dies with its
  parent;
- the parent awaits the answer within the time budget; on timeout, or when the
  awaiting task is cancelled (a task or workflow timeout, a cancelled instance,
  SIGTERM), it kills that child and starts another when next needed;
- outcomes are exceptions the evaluator turns into workflow errors: the time
  budget exceeded, memory exhausted, the child killed by a signal.

``check_compile`` is the synchronous counterpart for compiling a program whose
constants libjq folds at compile time (``"x" * 2000000000``): ``load`` and
``validate`` are synchronous, so it talks to one child with blocking pipes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from podium.expressions import _child
from podium.limits import (
    EXPRESSION_COMPILE_SECONDS,
    EXPRESSION_MEMORY_BYTES,
    EXPRESSION_TIMEOUT_SECONDS,
    MAX_PAYLOAD_BYTES,
)

_CHILD = str(Path(_child.__file__).resolve())
# Children at most, each evaluating one expression: enough that a runaway one
# (which holds its child until its budget ends) does not stall the others' turns,
# few enough that their memory budgets stay affordable.
DEFAULT_PROCESSES = min(max(2, os.cpu_count() or 2), 8)


class SandboxError(Exception):
    """An evaluation the sandbox could not complete."""


class BudgetExceeded(SandboxError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within its {seconds:g}s budget")
        self.seconds = seconds


class OutOfMemory(SandboxError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"ran out of its {describe_bytes(limit)} memory budget")
        self.limit = limit


class Crashed(SandboxError):
    def __init__(self, how: str) -> None:
        super().__init__(f"crashed the evaluator ({how})")


class Unavailable(SandboxError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"could not be evaluated: no sandbox process could start ({reason})")


class ProgramError(SandboxError):
    """A jq error (compile or runtime): the program's own failure."""


class ResultTooLarge(SandboxError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"gave a result of {describe_bytes(size)}, over the {describe_bytes(limit)} limit"
        )


def describe_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


# Children need nothing from the environment, and should not hold the secrets an
# operator may keep there (PODIUM_SECRETS_ENV_PREFIX).
_ENVIRONMENT: dict[str, str] = {}


def _command(memory: int, max_result: int) -> list[str]:
    # -I: no user site, no PYTHON* variables, and above all not the script's own
    # directory on sys.path (where `jq.py` would shadow the jq package).
    return [sys.executable, "-I", _CHILD, str(memory), str(max_result), str(os.getpid())]


def _death(returncode: int, stderr: bytes, memory: int) -> SandboxError:
    """What a child's end means: memory exhausted (libjq's abort message, or our
    exit status after a MemoryError), or a crash by signal."""
    if returncode == _child.MEMORY_EXIT or b"cannot allocate memory" in stderr:
        return OutOfMemory(memory)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return Crashed(name)
    return Crashed(f"exit status {returncode}")


def _answer(tag: bytes, body: bytes, memory: int, max_result: int) -> bytes:
    if tag == _child.RESULT:
        return body
    if tag == _child.ERROR:
        raise ProgramError(body.decode(errors="replace"))
    if tag == _child.TOO_LARGE:
        raise ResultTooLarge(int(body), max_result)
    if tag == _child.NO_MEMORY:
        raise OutOfMemory(memory)
    raise Crashed(f"unexpected answer {tag!r}")


# --- the asynchronous pool ----------------------------------------------------------------


class _Child:
    __slots__ = ("process",)

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def request(self, message: bytes) -> tuple[bytes, bytes]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(message)
        await stdin.drain()
        tag, length = _child.header(await stdout.readexactly(_child.HEADER_SIZE))
        return tag, await stdout.readexactly(length)

    async def death(self, memory: int) -> SandboxError:
        """Why the child stopped answering (it is dead or dying)."""
        process = self.process
        try:
            async with asyncio.timeout(2):
                returncode = await process.wait()
                assert process.stderr is not None
                stderr = await process.stderr.read()
        except TimeoutError:  # pragma: no cover - it closed stdout but lives on
            process.kill()
            return Crashed("stopped answering")
        return _death(returncode, stderr, memory)


class Sandbox:
    """A pool of evaluator processes, started lazily on the running event loop.

    ``timeout`` and ``memory`` are the budgets of one evaluation; ``processes``
    bounds how many run at once (more evaluations wait for a free child).
    Close it with ``aclose()`` (a ``Runtime`` does) to end the children.
    """

    def __init__(
        self,
        *,
        timeout: float = EXPRESSION_TIMEOUT_SECONDS,
        memory: int = EXPRESSION_MEMORY_BYTES,
        max_result: int = MAX_PAYLOAD_BYTES,
        processes: int = DEFAULT_PROCESSES,
    ) -> None:
        self.timeout = timeout
        self.memory = memory
        self.max_result = max_result
        self.processes = processes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._reaping: set[asyncio.Task[None]] = set()
        self.started = 0  # children started so far (for tests and operators)

    async def evaluate(self, program: str, payload: bytes) -> bytes:
        """Run ``program`` (which ends in ``tojson``) on the JSON ``payload``; the
        results as JSON text. Raises a ``SandboxError``."""
        slots = self._bind()
        async with slots:
            child = self._idle.pop() if self._idle else await self._spawn()
            self._busy.add(child)
            healthy = False
            try:
                async with asyncio.timeout(self.timeout):
                    tag, body = await child.request(_child.evaluation(program, payload))
                healthy = tag != _child.NO_MEMORY
            except TimeoutError:
                raise BudgetExceeded(self.timeout) from None
            except (asyncio.IncompleteReadError, ConnectionError):
                raise await child.death(self.memory) from None
            finally:
                self._busy.discard(child)
                if healthy:
                    self._idle.append(child)
                else:
                    # Timed out, cancelled, or dead: nothing else stops libjq.
                    self._discard(child)
        return _answer(tag, body, self.memory, self.max_result)

    async def aclose(self) -> None:
        """Stop every child (idle ones end on EOF; busy ones are killed)."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            self._forget()
            return
        children, self._idle = [*self._idle, *self._busy], []
        self._busy = set()
        for child in children:
            self._discard(child)
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            if self._loop is not None:
                self._forget()
            self._loop = loop
            self._slots = asyncio.Semaphore(self.processes)
        return self._slots

    def _forget(self) -> None:
        """Children of a loop that is gone: kill them without awaiting (their
        transports belonged to that loop)."""
        for child in [*self._idle, *self._busy]:
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
        self._idle, self._busy = [], set()
        self._reaping = set()

    async def _spawn(self) -> _Child:
        try:
            process = await asyncio.create_subprocess_exec(
                *_command(self.memory, self.max_result),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                # Its own session: a terminal's Ctrl-C reaches the parent only.
                start_new_session=True, env=_ENVIRONMENT,
            )
        except OSError as exc:  # no processes or descriptors left: this task faults
            raise Unavailable(exc.strerror or str(exc)) from None
        self.started += 1
        return _Child(process)

    def _discard(self, child: _Child) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.process.kill()
        task = asyncio.get_running_loop().create_task(self._reap(child))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    @staticmethod
    async def _reap(child: _Child) -> None:
        await child.process.wait()


# --- compile checks (synchronous) --------------------------------------------------------


class _Compiler:
    """One child for compile checks, used with blocking pipes under a lock
    (``load`` may run in several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)

    def check(self, program: str, seconds: float) -> str | None:
        """None when ``program`` compiles, else the jq error message; raises a
        ``SandboxError`` when compiling exceeds the budgets."""
        with self._lock:
            process = self._process
            if process is not None and process.poll() is not None:
                self._stop(process)  # died (its parent thread ended, say): start another
                process = None
            if process is None:
                try:
                    process = self._process = subprocess.Popen(
                        _command(EXPRESSION_MEMORY_BYTES, MAX_PAYLOAD_BYTES),
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        start_new_session=True, env=_ENVIRONMENT,
                    )
                except OSError as exc:
                    raise Unavailable(exc.strerror or str(exc)) from None
            try:
                tag, body = self._request(process, _child.frame(_child.COMPILE,
                                                                 program.encode()), seconds)
            except BaseException:
                self._stop(process)
                raise
        if tag == _child.COMPILED:
            return None
        if tag == _child.ERROR:
            return body.decode(errors="replace")
        raise Crashed(f"unexpected answer {tag!r}")

    def _request(self, process: subprocess.Popen[bytes], message: bytes,
                 seconds: float) -> tuple[bytes, bytes]:
        assert process.stdin is not None and process.stdout is not None
        deadline = time.monotonic() + seconds
        try:
            process.stdin.write(message)
            process.stdin.flush()
            head = _read_until(process.stdout, _child.HEADER_SIZE, deadline, seconds)
            tag, length = _child.header(head)
            return tag, _read_until(process.stdout, length, deadline, seconds)
        except (BrokenPipeError, EOFError):
            process.kill()
            returncode = process.wait()
            assert process.stderr is not None
            raise _death(returncode, process.stderr.read(), EXPRESSION_MEMORY_BYTES) from None

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        self._process = None

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                self._stop(self._process)


def _read_until(stream: IO[bytes], size: int, deadline: float, seconds: float) -> bytes:
    descriptor = stream.fileno()
    # poll, not select: a busy process may hold descriptors beyond FD_SETSIZE.
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    chunks: list[bytes] = []
    missing = size
    while missing:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise BudgetExceeded(seconds)
        chunk = os.read(descriptor, min(missing, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


_compiler = _Compiler()


def check_compile(program: str, seconds: float = EXPRESSION_COMPILE_SECONDS) -> str | None:
    """Compile ``program`` in the compile child, within ``seconds`` and the memory
    budget. None when it compiles, else jq's error message; raises a
    ``SandboxError`` beyond the budgets."""
    return _compiler.check(program, seconds)

