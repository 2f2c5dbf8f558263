"""The ``podium`` command: a thin shell over the Python API.

Contract other tools rely on (README "Command line"):

- ``podium run``: a completed workflow prints its output as one JSON document on
  stdout (exit 0); a faulted one prints a human line, then its error as compact
  RFC 7807 JSON on the last line of stderr (exit 1); an invalid document or
  ``--input`` prints ``file:line:col: /pointer: message`` lines on stderr (exit 2).
- ``podium validate``: problems on stdout, exit 0 when every file is valid, else 2.

Everything for humans goes to stderr through Rich, so stdout stays parseable.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from podium import (
    Definition,
    InvalidWorkflowError,
    Problem,
    Runtime,
    __version__,
    load,
    validate,
)
from podium.engine.lifecycle import CloudEvent

EXIT_FAULTED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="podium",
    help="Run and check CNCF Serverless Workflow (DSL 1.0.3) documents.",
    no_args_is_help=True,
    add_completion=False,
    # User errors are reported as messages; anything else is a bug whose plain
    # traceback is the most useful report.
    pretty_exceptions_enable=False,
)


def _stderr() -> Console:
    # Built on demand so the console writes to whatever sys.stderr is now
    # (CliRunner swaps it); soft_wrap keeps machine-readable lines on one line.
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _stdout() -> Console:
    return Console(soft_wrap=True, highlight=False)


def _problem_line(problem: Problem) -> Text:
    return Text.assemble(
        (f"{problem.file}:{problem.line}:{problem.column}:", "bold"),
        " ",
        (problem.pointer, "cyan"),
        ": ",
        problem.message,
    )


def _invalid(problems: Sequence[Problem]) -> NoReturn:
    console = _stderr()
    for problem in problems:
        console.print(_problem_line(problem))
    raise typer.Exit(EXIT_INVALID)


def _usage_error(message: str) -> NoReturn:
    _stderr().print(Text.assemble(("error: ", "bold red"), message))
    raise typer.Exit(EXIT_INVALID)


def _load(path: Path) -> Definition:
    try:
        return load(path)
    except InvalidWorkflowError as exc:
        _invalid(exc.problems)


def _parse_input(value: str | None) -> Any:
    """The workflow input from ``--input``: inline JSON, or ``@path`` to a JSON file."""
    if value is None:
        return None
    where = "--input"
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        where = f"--input file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            _usage_error(f"cannot read {where}: {exc.strerror or exc}")
        except UnicodeDecodeError as exc:
            _usage_error(f"cannot read {where}: not UTF-8 text ({exc.reason})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _usage_error(
            f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )


_MARKS = {
    "completed": ("✓ ", "green"),
    "skipped": ("↷ ", "dim"),
    "faulted": ("✗ ", "red"),
    "cancelled": ("■ ", "yellow"),
    "retried": ("↻ ", "yellow"),
}


class _Progress:
    """Renders task lifecycle events as they happen (``--verbose``)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started: dict[str, float] = {}

    def __call__(self, event: CloudEvent) -> None:
        kind = event["type"].removeprefix("io.serverlessworkflow.").removesuffix(".v1")
        data = event.get("data") or {}
        if kind.startswith("task."):
            self._task(kind.removeprefix("task."), data)
        elif kind in ("workflow.started", "workflow.completed", "workflow.faulted",
                      "workflow.cancelled"):
            self._console.print(Text(f"workflow {data.get('name', '')} "
                                     f"{kind.removeprefix('workflow.')}", style="bold"))

    def _task(self, phase: str, data: dict[str, Any]) -> None:
        task = str(data.get("task", "?"))
        if phase == "started":
            self._started[task] = time.perf_counter()
            self._console.print(Text.assemble(("▶ ", "blue"), task))
            return
        if phase not in _MARKS:
            return  # created, status-changed, ...: noise at this level
        began = self._started.pop(task, None) if phase != "retried" else None
        if phase == "completed" and began is None:
            phase = "skipped"  # `if` was false: completed without starting
        elapsed = f" ({(time.perf_counter() - began) * 1000:.1f} ms)" if began else ""
        suffix = ""
        if phase == "faulted":
            error = data.get("error") or {}
            suffix = f": {error.get('title') or error.get('type', '')}"
        self._console.print(Text.assemble(_MARKS[phase], f"{task} {phase}{elapsed}{suffix}"))


async def _execute(definition: Definition, data: Any, verbose: bool) -> Any:
    listeners = [_Progress(_stderr())] if verbose else []
    async with Runtime(listeners=listeners) as runtime:
        return await runtime.execute(definition, data)


@app.command()
def run(
    workflow_file: Annotated[
        Path, typer.Argument(metavar="WORKFLOW_FILE", help="Workflow definition (YAML or JSON).")
    ],
    input_json: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", metavar="JSON|@FILE",
            help="Workflow input: inline JSON, or @path/to/input.json.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tasks as they start and finish (stderr).")
    ] = False,
) -> None:
    """Run a workflow to its end.

    Completed: the output as one JSON document on stdout, exit 0.
    Faulted: the error as RFC 7807 JSON on the last line of stderr, exit 1.
    Invalid document or input: file:line:col: /pointer: message on stderr, exit 2.
    """
    definition = _load(workflow_file)
    data = _parse_input(input_json)
    try:
        execution = asyncio.run(_execute(definition, data, verbose))
    except KeyboardInterrupt:
        _stderr().print(Text("interrupted", style="yellow"))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if execution.error is None:
        sys.stdout.write(json.dumps(execution.output, indent=2, ensure_ascii=False) + "\n")
        return
    problem = execution.error.to_dict()
    summary = problem.get("title") or problem["type"]
    detail = f": {problem['detail']}" if problem.get("detail") else ""
    _stderr().print(Text.assemble(
        ("✗ faulted ", "bold red"), f"at {problem.get('instance', '/')}: {summary}{detail}"
    ))
    # Written raw, never through Rich: one compact line that tools parse.
    sys.stderr.write(json.dumps(problem, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stderr.flush()
    raise typer.Exit(EXIT_FAULTED)


@app.command(name="validate")
def validate_command(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="Workflow definitions to check.")
    ],
) -> None:
    """Check documents without running them.

    Prints to stdout one "file:line:col: /pointer: message" line per problem
    (every problem of every file) and "FILE: valid" for each valid file.
    Exit 0 when all files are valid, 2 otherwise.
    """
    console = _stdout()
    failed = False
    for path in files:
        problems = validate(path)
        for problem in problems:
            console.print(_problem_line(problem))
        if problems:
            failed = True
        else:
            console.print(Text.assemble((str(path), "bold"), ": ", ("valid", "green")))
    if failed:
        raise typer.Exit(EXIT_INVALID)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Run and check CNCF Serverless Workflow (DSL 1.0.3) documents."""


def main() -> None:
    """Entry point of the ``podium`` console script."""
    try:
        app(prog_name="podium")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`podium run ... | head`): not worth a traceback.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAULTED)


if __name__ == "__main__":
    main()
