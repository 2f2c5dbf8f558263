"""Where things are printed, and how the command exits.

Machine-readable results go to stdout; everything for humans goes to stderr
through Rich, so stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from podium import Problem

# Exit codes (README "Command line").
EXIT_FAILED = 1  # the workflow faulted or was cancelled; not found; already ended; conflict
EXIT_INVALID = 2  # usage: invalid document, input or flag; the store cannot be used
EXIT_HANDED_OFF = 3  # `podium run --store`: the instance parked (suspended/waiting) unfinished
EXIT_INTERRUPTED = 130  # SIGINT (or SIGTERM for a recorded run)


def stderr() -> Console:
    # Built on demand so the console writes to whatever sys.stderr is now
    # (CliRunner swaps it); soft_wrap keeps machine-readable lines on one line.
    return Console(stderr=True, soft_wrap=True, highlight=False)


def stdout() -> Console:
    return Console(soft_wrap=True, highlight=False)


def table_console() -> Console:
    """stdout for tables: fitted to a terminal, never wrapped into a pipe or file."""
    console = stdout()
    if not console.is_terminal:
        console.width = max(console.width, 240)
    return console


def write_json(value: Any) -> None:
    # Written raw, never through Rich: no markup, no wrapping.
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def note(message: str | Text) -> None:
    stderr().print(message if isinstance(message, Text) else Text(message, style="dim"))


def error(message: str) -> None:
    stderr().print(Text.assemble(("error: ", "bold red"), message))


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    error(message)
    raise typer.Exit(code)


def usage_error(message: str) -> NoReturn:
    fail(message, EXIT_INVALID)


def problem_line(problem: Problem) -> Text:
    return Text.assemble(
        (f"{problem.file}:{problem.line}:{problem.column}:", "bold"),
        " ",
        (problem.pointer, "cyan"),
        ": ",
        problem.message,
    )


def invalid(problems: Sequence[Problem]) -> NoReturn:
    console = stderr()
    for problem in problems:
        console.print(problem_line(problem))
    raise typer.Exit(EXIT_INVALID)
