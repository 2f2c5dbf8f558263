"""`run: shell` (dsl-reference "Shell Process").

The command runs as ``/bin/sh -c COMMAND podium ARG...``: the arguments are the
shell's positional parameters ``$1``, ``$2``... as the spec's example
(``echo "ARGS are $1 $2"``) reads them, and they are never re-parsed by the
shell, so an argument holding ``; rm -rf /`` stays one word.

A command that is one runtime expression is evaluated first. A command with
expressions inside it, as in the spec's own example (``echo "Hello, ${
.user.name }"``), has each ``${ EXPR }`` (``${`` then a space: never valid
shell) replaced by a reference to an environment variable holding the value
(``${PODIUM_EXPR_0}``): the shell expands it but never parses it as code, so
workflow data cannot inject commands.
"""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.processes import _process

SHELL = "/bin/sh"
# $0 of the shell, shown in its own error messages.
ZERO = "podium"
# Variables holding the values of expressions embedded in the command.
VARIABLE = "PODIUM_EXPR_"


def command_line(command: str, arguments: list[str]) -> list[str]:
    return [SHELL, "-c", command, ZERO, *arguments]


def expressions(command: str) -> list[tuple[int, int]]:
    """Spans of the ``${ EXPR }`` inside ``command`` (braces balanced, jq string
    literals skipped)."""
    spans = []
    start = command.find("${")
    while start != -1:
        end = _closing(command, start + 2) if command[start + 2 : start + 3].isspace() else None
        if end is None:
            start = command.find("${", start + 2)
            continue
        spans.append((start, end + 1))
        start = command.find("${", end + 1)
    return spans


def _closing(text: str, index: int) -> int | None:
    depth = 1
    while index < len(text):
        char = text[index]
        if char == '"':
            index += 1
            while index < len(text) and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


async def interpolate(command: str, run: TaskRun) -> tuple[str, dict[str, str]]:
    """``command`` with each embedded expression replaced by a variable reference,
    and the variables' values."""
    parts, values, last = [], {}, 0
    for number, (start, end) in enumerate(expressions(command)):
        name = f"{VARIABLE}{number}"
        values[name] = _process.as_text(await run.template(command[start:end]))
        parts += [command[last:start], "${" + name + "}"]
        last = end
    return "".join(parts) + command[last:], values


async def execute_shell(config: m.RunConfig, run: TaskRun) -> Any:
    shell = config.shell
    assert shell is not None
    _process.require_allowed("shell", run)
    command = await run.template(shell.command)
    if not isinstance(command, str):
        raise WorkflowError.expression(
            f"the shell command gave {type(command).__name__}, not a string", run.reference
        )
    command, values = await interpolate(command, run)
    env = await _process.environment(shell.environment, run)
    env.update(values)
    return await _process.execute(
        command_line(command, await _process.arguments(shell.arguments, run)),
        env=env,
        stdin=await _process.stdin(shell.stdin, run),
        awaited=config.await_, return_=config.return_, what="the shell command", run=run,
    )
