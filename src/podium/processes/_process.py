"""What every process kind of `run` shares: the operator's permission, the
environment a process gets, starting it in a session of its own, killing its
whole group when the task is cancelled or times out, and turning the outcome
into the task's output (dsl-reference "Run", `return`; "Process Result").

Processes never inherit the Podium process environment: a worker's environment
holds store passwords and ``PODIUM_SECRET_*`` values. A process gets a minimal
safe environment (``PATH``, ``HOME``, ``LANG`` and the locale) with the task's
``environment`` merged over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.engine.errors import AUTHORIZATION, WorkflowError
from podium.engine.state import TaskRun

# Variables a process may take from Podium's own environment: enough to find
# programs and decode text, nothing that could hold a secret.
SAFE_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

# After SIGTERM, how long a process group has to exit before SIGKILL.
GRACE_SECONDS = 3.0

# Characters of stderr quoted in the error of a failed process.
STDERR_EXCERPT = 1000


@dataclass(frozen=True)
class Outcome:
    """A process that ended: dsl-reference "Process Result"."""

    code: int
    stdout: str
    stderr: str


def require_allowed(kind: str, run: TaskRun) -> None:
    """Refuse a process kind the operator has not enabled (secure by default)."""
    if kind in run.instance.services.settings.allow_run:
        return
    raise WorkflowError(
        AUTHORIZATION,
        detail=f"run: {kind} is disabled on this runtime; the operator enables it with "
               f"`--allow-run {kind}` or PODIUM_ALLOW_RUN={kind}",
        instance=run.reference,
    )


async def environment(extra: Mapping[str, Any] | None, run: TaskRun) -> dict[str, str]:
    """The minimal safe environment with the task's ``environment`` (evaluated) over it."""
    env = {name: os.environ[name] for name in SAFE_VARIABLES if name in os.environ}
    env.setdefault("PATH", DEFAULT_PATH)
    if extra:
        values = await run.template(dict(extra))
        env.update({str(name): as_text(value) for name, value in values.items()})
    return env


async def arguments(values: Sequence[Any] | None, run: TaskRun) -> list[str]:
    if not values:
        return []
    return [as_text(value) for value in await run.template(list(values))]


async def stdin(value: str | None, run: TaskRun) -> str | None:
    return None if value is None else as_text(await run.template(value))


def as_text(value: Any) -> str:
    """A value for argv, the environment or stdin: strings as they are, JSON otherwise."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def execute(
    argv: Sequence[str], *, env: Mapping[str, str], stdin: str | None, awaited: bool,
    return_: str, what: str, run: TaskRun, after: Callable[[], None] | None = None,
) -> Any:
    """Run ``argv`` and give the task's raw output; with ``await: false``, start it
    and give the task's input at once (dsl-reference "Run", `await`)."""
    if not awaited:
        start_detached(argv, env=env, stdin=stdin, what=what, run=run, after=after)
        return run.input
    outcome = await run_process(argv, env=env, stdin=stdin, what=what, run=run)
    return result(outcome, return_, what, run)


async def run_process(
    argv: Sequence[str], *, env: Mapping[str, str], stdin: str | None, what: str,
    run: TaskRun,
) -> Outcome:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env), start_new_session=True,
        )
    except OSError as exc:
        raise WorkflowError.configuration(
            f"cannot start {what} ({argv[0]}): {exc.strerror or exc}", run.reference
        ) from None
    try:
        out, err = await process.communicate(None if stdin is None else stdin.encode())
    except BaseException:
        # Cancelled (the task's timeout, a cancel request, a worker stopping):
        # the process and everything it started go with the task.
        await terminate(process)
        raise
    assert process.returncode is not None
    return Outcome(process.returncode, _decode(out), _decode(err))


async def terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the process group, SIGKILL after a grace period."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), GRACE_SECONDS)
    except TimeoutError:
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()
    # Children that ignored SIGTERM while their leader exited.
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
        os.killpg(pid, sig)


def start_detached(
    argv: Sequence[str], *, env: Mapping[str, str], stdin: str | None, what: str,
    run: TaskRun, after: Callable[[], None] | None = None,
) -> None:
    """Start a process nobody awaits. A daemon thread feeds its stdin and reaps
    it (then calls ``after``), so it leaves no zombie and outlives the event
    loop that started it."""
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(env), start_new_session=True,
        )
    except OSError as exc:
        if after is not None:
            after()
        raise WorkflowError.configuration(
            f"cannot start {what} ({argv[0]}): {exc.strerror or exc}", run.reference
        ) from None
    data = None if stdin is None else stdin.encode()
    threading.Thread(
        target=_reap, args=(process, data, after), name=f"podium-reap-{process.pid}", daemon=True
    ).start()


def _reap(
    process: subprocess.Popen[bytes], data: bytes | None, after: Callable[[], None] | None
) -> None:
    try:
        process.communicate(data)
    except OSError:
        process.wait()  # it did not read its stdin; its result is discarded anyway
    finally:
        if after is not None:
            after()


def result(outcome: Outcome, return_: str, what: str, run: TaskRun) -> Any:
    """The task output for ``return`` (dsl-reference "Run", `return`).

    With `code` or `all` the exit code is part of the output, so a non-zero code
    is a result, not a fault. With `stdout`, `stderr` or `none` the output cannot
    say the process failed, so a non-zero code raises a runtime error."""
    if return_ == "code":
        return outcome.code
    if return_ == "all":
        return {"code": outcome.code, "stdout": outcome.stdout, "stderr": outcome.stderr}
    if outcome.code != 0:
        excerpt = outcome.stderr.strip()
        if len(excerpt) > STDERR_EXCERPT:
            excerpt = "..." + excerpt[-STDERR_EXCERPT:]
        detail = f"{what} exited with code {outcome.code}"
        raise WorkflowError.runtime(
            f"{detail}: {excerpt}" if excerpt else detail, run.reference
        )
    if return_ == "stdout":
        return outcome.stdout
    if return_ == "stderr":
        return outcome.stderr
    return None


def _decode(data: bytes) -> str:
    """Text with its final line break removed, as a shell's ``$(...)`` would: a
    command that prints one line gives that line."""
    text = data.decode("utf-8", errors="replace")
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text
