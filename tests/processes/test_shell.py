"""`run: shell` with real processes (no mocks): stdin, arguments, environment,
`return` modes, failures, the operator's permission, timeouts, `await: false`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from podium.engine.errors import AUTHORIZATION, RUNTIME, TIMEOUT
from podium.processes.shell import expressions

ALLOWED = Settings(allow_run=frozenset({"shell"}))


def shell(body: str, extra: str = "") -> str:
    """A workflow with one `run: shell` task; ``body`` is the `shell` object's YAML."""
    indented = "\n".join("          " + line for line in body.strip().splitlines())
    tail = "\n".join("        " + line for line in extra.strip().splitlines())
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: shell, version: '0.1.0'}}
do:
  - runShell:
      run:
        shell:
{indented}
{tail}
"""


async def run(document: str, data: Any = None, settings: Settings = ALLOWED) -> Any:
    async with Runtime(settings=settings) as runtime:
        return await runtime.run(document, data)


async def test_the_spec_example_reads_stdin_and_positional_arguments() -> None:
    example = Path(__file__).parents[3] / "shared/spec/examples/run-shell-stdin-and-arguments.yaml"
    out = await run(example.read_text(encoding="utf-8"))
    assert out == "STDIN was: Hello World\nARGS are Foo Bar"


async def test_arguments_are_never_parsed_by_the_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    out = await run(shell(f"""
command: 'printf "%s|" "$@"'
arguments: ['${{ .a }}', 'two words', '; touch {marker}']
"""), {"a": "x y"})
    assert out == f"x y|two words|; touch {marker}|"
    assert not marker.exists()


async def test_environment_is_the_tasks_over_a_minimal_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_SECRET_TOKEN", "s3cr3t")
    monkeypatch.setenv("DATABASE_PASSWORD", "hunter2")
    out = await run(shell("""
command: env
environment:
  GREETING: '${ "hello " + .who }'
  COUNT: 3
"""), {"who": "Ada"})
    names = dict(line.split("=", 1) for line in out.splitlines())
    assert names["GREETING"] == "hello Ada"
    assert names["COUNT"] == "3"
    assert "s3cr3t" not in out and "hunter2" not in out
    assert set(names) - {"GREETING", "COUNT"} <= {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE",
                                                   "TZ", "PWD", "SHLVL", "_"}


async def test_the_command_is_an_expression() -> None:
    out = await run(shell("command: '${ \"echo \" + .word }'"), {"word": "hi"})
    assert out == "hi"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("stdout", "out"),
        ("stderr", "err"),
        ("code", 0),
        ("all", {"code": 0, "stdout": "out", "stderr": "err"}),
        ("none", None),
    ],
)
async def test_return_modes(mode: str, expected: Any) -> None:
    out = await run(shell("command: 'echo out; echo err >&2'", f"return: {mode}"))
    assert out == expected


async def test_only_the_final_line_break_is_removed() -> None:
    assert await run(shell("command: printf 'a\\n\\n'")) == "a\n"


@pytest.mark.parametrize("mode", ["code", "all"])
async def test_a_non_zero_exit_is_the_result_when_return_includes_the_code(mode: str) -> None:
    out = await run(shell("command: 'echo oops >&2; exit 3'", f"return: {mode}"))
    assert out == (3 if mode == "code" else {"code": 3, "stdout": "", "stderr": "oops"})


@pytest.mark.parametrize("mode", ["stdout", "stderr", "none"])
async def test_a_non_zero_exit_faults_otherwise(mode: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(shell("command: 'echo oops >&2; exit 3'", f"return: {mode}"))
    error = caught.value
    assert (error.type, error.status, error.instance) == (RUNTIME, 500, "/do/0/runShell")
    assert error.detail == "the shell command exited with code 3: oops"


@pytest.mark.parametrize("allowed", [frozenset(), frozenset({"script", "container"})])
async def test_refused_unless_the_operator_allows_it(
    allowed: frozenset[str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(WorkflowError) as caught:
        await run(shell(f"command: touch {marker}"), settings=Settings(allow_run=allowed))
    error = caught.value
    assert (error.type, error.status) == (AUTHORIZATION, 403)
    assert error.detail is not None
    assert "--allow-run shell" in error.detail and "PODIUM_ALLOW_RUN=shell" in error.detail
    assert not marker.exists()


def _gone(pid: int) -> bool:
    """No such process, or a zombie waiting for an init that does not reap."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" in state.split()[1]


async def test_a_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    document = f"""
document: {{dsl: '1.0.3', namespace: test, name: slow, version: '0.1.0'}}
do:
  - slow:
      timeout:
        after: {{milliseconds: 500}}
      run:
        shell:
          command: 'sleep 30 & echo $! > {pids}; wait'
"""
    started = time.monotonic()
    with pytest.raises(WorkflowError) as caught:
        await run(document)
    assert caught.value.type == TIMEOUT
    assert time.monotonic() - started < 10
    pid = int(pids.read_text(encoding="utf-8"))
    for _ in range(50):
        if _gone(pid):
            break
        await asyncio.sleep(0.1)
    assert _gone(pid)


async def test_cancelling_the_instance_kills_the_process(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    async with Runtime(settings=ALLOWED) as runtime:
        handle = await runtime.start(shell(f"command: 'sleep 30 & echo $! > {pids}; wait'"))
        for _ in range(100):
            if pids.exists() and pids.read_text(encoding="utf-8").strip():
                break
            await asyncio.sleep(0.05)
        handle.cancel()
        execution = await handle.result()
    assert execution.status == "cancelled"
    pid = int(pids.read_text(encoding="utf-8"))
    for _ in range(50):
        if _gone(pid):
            break
        await asyncio.sleep(0.1)
    assert _gone(pid)


async def test_not_awaited_completes_at_once_with_the_input(tmp_path: Path) -> None:
    done = tmp_path / "done"
    out = await run(shell(
        f"command: 'sleep 1; cat > {done}.part; mv {done}.part {done}'\nstdin: '${{ .msg }}'",
        "await: false",
    ), {"msg": "later"})
    assert out == {"msg": "later"}
    assert not done.exists()  # the task did not wait for the process
    for _ in range(100):
        if done.exists() and done.read_text(encoding="utf-8"):
            break
        await asyncio.sleep(0.05)
    assert done.read_text(encoding="utf-8") == "later"


async def test_expressions_inside_the_command_as_in_the_spec_example() -> None:
    out = await run(shell("""command: 'echo "Hello, ${ .user.name }"'"""),
                    {"user": {"name": "Ada"}})
    assert out == "Hello, Ada"


async def test_embedded_expressions_cannot_inject_commands(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    out = await run(shell("""command: 'echo "${ {v: .name} | .v }" ${HOME:+set}'"""),
                    {"name": f"$(touch {marker}); `touch {marker}`"})
    assert out == f"$(touch {marker}); `touch {marker}` set"
    assert not marker.exists()


def test_embedded_expression_spans() -> None:
    command = 'a ${HOME} "${ .x }" ${ {"}": 1} | .["}"] } ${ unclosed'
    spans = [command[start:end] for start, end in expressions(command)]
    assert spans == ["${ .x }", '${ {"}": 1} | .["}"] }']
