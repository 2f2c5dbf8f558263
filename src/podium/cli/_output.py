"""Where things are printed, and how the command exits.

Machine-readable results go to stdout; everything for humans goes to stderr
through Rich, so stdout stays parseable.

Text from documents, inputs and stores reaches the terminal only through
``printable`` (lines for people) or ``json_text`` (JSON documents): a title
holding ``ESC [2J`` must not clear the screen of whoever reads it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from podium.dsl import Problem

# Exit codes (README "Command line").
EXIT_FAILED = 1  # the workflow faulted or was cancelled; not found; already ended; conflict
EXIT_INVALID = 2  # usage: invalid document, input or flag; the store cannot be used
EXIT_HANDED_OFF = 3  # `podium run --store`: the instance parked (suspended/waiting) unfinished
EXIT_INTERRUPTED = 130  # SIGINT (or SIGTERM for a recorded run)


# Characters a terminal acts on instead of showing them: C0 controls, DEL, C1
# controls (U+009B is CSI, like ESC [). And characters that break or reorder what
# it shows: Unicode line separators and the bidirectional embeddings, overrides
# and isolates ("Trojan Source", CVE-2021-42574).
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029,
           *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escape(code: int) -> str:
    return _NAMED.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


_ONE_LINE = {code: _escape(code) for code in _UNSAFE}
_LINES = {code: text for code, text in _ONE_LINE.items() if code not in (0x09, 0x0A)}
# In JSON text these can only stand inside strings, where a \\u escape (four hex
# digits) means the same; json.dumps escapes C0 controls itself.
_JSON_UNSAFE = {code: f"\\u{code:04x}" for code in _UNSAFE if code >= 0x7F}


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` safe to show on a terminal: each unsafe character as an escape
    (``\\x1b``, ``\\r``, ``\\u202e``). Tab and newline stay when ``lines``
    (a traceback); otherwise they are escaped too, so one line stays one line."""
    return text.translate(_LINES if lines else _ONE_LINE)


class NotJSON(ValueError):
    """A value strict JSON cannot represent (NaN, Infinity) reached the printer."""


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """``value`` as strict JSON (RFC 8259), safe on a terminal: never ``NaN`` or
    ``Infinity`` (``NotJSON``: the engine maps them before; reaching here is a
    bug), and C1 and bidirectional controls as ``\\u`` escapes."""
    try:
        text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False,
                          separators=None if indent is not None else (",", ":"))
    except ValueError as exc:
        raise NotJSON(str(exc)) from None
    return text.translate(_JSON_UNSAFE)


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
    """One JSON document on stdout. A value that is not JSON prints an internal
    error instead (exit 1): a program reading stdout must never get ``NaN``."""
    try:
        text = json_text(value)
    except NotJSON as exc:
        fail(f"internal error: the result is not JSON ({exc}); please report it")
    # Written raw, never through Rich: no markup, no wrapping.
    sys.stdout.write(text + "\n")


def note(message: str | Text) -> None:
    stderr().print(message if isinstance(message, Text) else Text(printable(message),
                                                                    style="dim"))


def error(message: str) -> None:
    stderr().print(Text.assemble(("error: ", "bold red"), printable(message)))


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    error(message)
    raise typer.Exit(code)


def usage_error(message: str) -> NoReturn:
    fail(message, EXIT_INVALID)


def problem_line(problem: Problem) -> Text:
    return Text.assemble(
        (printable(f"{problem.file}:{problem.line}:{problem.column}:"), "bold"),
        " ",
        (printable(problem.pointer), "cyan"),
        ": ",
        printable(problem.message),
    )


def invalid(problems: Sequence[Problem]) -> NoReturn:
    console = stderr()
    for problem in problems:
        console.print(problem_line(problem))
    raise typer.Exit(EXIT_INVALID)
