"""What the CLI prints for people is safe on a terminal and fits it; what it
prints for programs is strict JSON.

- Text from documents, inputs and stores never reaches a terminal with its
  control characters: ``ESC [2J`` in a fault's title is shown as ``\\x1b[2J``
  (the `run` line, `--verbose`, worker logs, tables, `error:` lines), while
  the JSON documents keep the exact value.
- ``instances list`` never cuts an id, whatever the terminal's width.
- ``--help`` names no Python types and fits 80 columns.
"""

from __future__ import annotations

import json
import math
import re
import signal
from pathlib import Path

import pytest
import typer
import typer.rich_utils  # imported before FORCE_COLOR is set: see terminal()
from typer.testing import CliRunner

from podium.cli import app
from podium.cli._output import json_text, printable
from podium.cli._run import _report
from podium.engine.execution import Execution
from tests.cli.support import (
    EXAMPLES,
    as_json,
    eventually,
    invoke,
    ok,
    podium,
    spawn,
    status_is,
    workflow,
)

# A title and a detail as a hostile document or input may give them: clear the
# screen, colour it, return to the line start, C1 CSI, bell, a right-to-left
# override, and a line break that would fake a second line.
HOSTILE_TITLE = "\x1b[2J\x1b[31mCLEARED\rX\x9b1m\x07\u202eevil"
HOSTILE_DETAIL = "first\nfake line"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def raising(tmp_path: Path) -> Path:
    return workflow(tmp_path, "hostile", """\
  - boom:
      raise:
        error:
          type: https://example.com/errors/hostile
          status: 500
          title: ${ .title }
          detail: ${ .detail }
""")


HOSTILE_INPUT = json.dumps({"title": HOSTILE_TITLE, "detail": HOSTILE_DETAIL})


def test_printable_escapes_what_a_terminal_would_act_on() -> None:
    assert printable(HOSTILE_TITLE) == "\\x1b[2J\\x1b[31mCLEARED\\rX\\x9b1m\\x07\\u202eevil"
    assert printable("a\tb\nc") == "a\\tb\\nc"
    assert printable("a\tb\nc\x1b", lines=True) == "a\tb\nc\\x1b"
    assert printable("Grüße, 東京 ✓") == "Grüße, 東京 ✓"


def test_json_text_is_strict_and_keeps_the_value() -> None:
    value = {"title": HOSTILE_TITLE, "n": 1.5}
    text = json_text(value)
    assert not UNSAFE.search(text)
    assert json.loads(text) == value
    for number in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="JSON"):
            json_text({"n": number})


def test_a_faulted_run_shows_the_fault_escaped_and_the_json_exact(tmp_path: Path) -> None:
    result = podium("run", raising(tmp_path), "--input", HOSTILE_INPUT, "--verbose")
    assert result.returncode == 1
    assert not UNSAFE.search(result.stderr), repr(result.stderr)
    *human, last = result.stderr.rstrip("\n").splitlines()
    faulted = [line for line in human if line.startswith("✗ faulted")]
    assert faulted == ["✗ faulted at /do/0/boom: " + printable(HOSTILE_TITLE)
                       + ": first\\nfake line"]
    # --verbose names the fault too, escaped.
    assert any("\\x1b[2J" in line for line in human if line.startswith("✗ /do/0/boom"))
    problem = json.loads(last)
    assert (problem["title"], problem["detail"]) == (HOSTILE_TITLE, HOSTILE_DETAIL)


def test_error_lines_are_escaped(tmp_path: Path) -> None:
    result = podium("run", EXAMPLES / "hello.yaml", "--input", f"@{tmp_path}/\x1b[2Jnone")
    assert result.returncode == 2
    assert not UNSAFE.search(result.stderr)
    assert "\\x1b[2Jnone" in result.stderr


def test_validate_problems_are_escaped(tmp_path: Path) -> None:
    hostile = workflow(tmp_path, "unknown", '  - "\\e[2Jstep":\n      "\\e[31mbogus": {}\n')
    code, stdout, stderr = invoke("validate", hostile)
    assert code == 2
    assert stdout and not UNSAFE.search(stdout + stderr), repr(stdout)
    assert "\\x1b[" in stdout


def test_worker_log_lines_are_escaped(tmp_path: Path, sqlite: str) -> None:
    instance_id = ok("start", raising(tmp_path), "--input", HOSTILE_INPUT, "--store",
                     sqlite).strip()
    worker = spawn("worker", "--store", sqlite)
    try:
        eventually(status_is(sqlite, instance_id, "faulted"), what="the fault")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            _, log = worker.communicate(timeout=10)
        finally:
            worker.kill()
    [line] = [line for line in log.splitlines() if f"faulted {instance_id}" in line]
    assert "\\x1b[2J\\x1b[31mCLEARED\\rX" in line
    assert not UNSAFE.search(log), repr(log)


def test_tables_show_data_escaped_and_never_as_markup(tmp_path: Path, sqlite: str) -> None:
    hostile = workflow(tmp_path, "markup", """\
  - show:
      set:
        text: ${ .text }
""")
    text = "[/red][bold]not a style\x1b[2J"
    invoke("run", hostile, "--input", json.dumps({"text": text}), "--store", sqlite)
    [listed] = as_json("instances", "list", "--store", sqlite)
    assert listed["output"] == {"text": text}  # --json: the exact value
    code, stdout, stderr = invoke("instances", "history", listed["id"], "--store", sqlite)
    assert code == 0, stderr
    assert '{"text":"[/red][bold]not a style\\u001b[2J"}' in stdout
    code, stdout, stderr = invoke("instances", "get", listed["id"], "--store", sqlite)
    assert code == 0, stderr
    assert '"[/red][bold]not a style\\u001b[2J"' in stdout
    assert not UNSAFE.search(stdout)


def terminal(*args: str, columns: int) -> list[str]:
    """stdout of a command as a terminal ``columns`` wide shows it, colours removed.

    typer reads FORCE_COLOR once, when ``typer.rich_utils`` is first imported:
    imported above, not here while FORCE_COLOR is set, or every later command
    in this test process would print colours."""
    result = CliRunner(env={"COLUMNS": str(columns), "FORCE_COLOR": "1"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    return [ANSI.sub("", line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("columns", [120, 100, 80, 60, 45, 30])
def test_instances_list_never_cuts_an_id(sqlite: str, columns: int) -> None:
    ok("run", EXAMPLES / "hello.yaml", "--input", '{"name": "Ada"}', "--store", sqlite)
    invoke("run", EXAMPLES / "fault.yaml", "--input", '{"amount": -1}', "--store", sqlite)
    ok("start", EXAMPLES / "hello.yaml", "--store", sqlite)
    ids = [record["id"] for record in as_json("instances", "list", "--store", sqlite)]
    lines = terminal("instances", "list", "--store", sqlite, columns=columns)
    header, rows = lines[0].split(), lines[1:]
    assert [row.split()[0] for row in rows] == ids
    assert header[:1] == ["id"] and "status" in header
    if columns >= 45:  # room for the id and the status side by side
        assert all(len(line.rstrip()) <= columns for line in lines), lines
    if columns >= 80:
        assert header[:4] == ["id", "workflow", "status", "created"]
        assert "examples/hello:0.1.0" in rows[-1]  # the workflow, whole
    if columns >= 120:
        assert header == ["id", "workflow", "status", "created", "ended"]


COMMANDS = [
    (), ("run",), ("validate",), ("start",), ("worker",), ("deploy",), ("instances",),
    ("instances", "list"), ("instances", "get"), ("instances", "history"),
    ("instances", "cancel"), ("instances", "suspend"), ("instances", "resume"),
    ("instances", "purge"), ("workflows",), ("workflows", "list"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "podium")
def test_help_fits_80_columns_and_names_no_python_type(command: tuple[str, ...]) -> None:
    lines = terminal(*command, "--help", columns=80)
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), text
    for python in ("<bool>", "<str>", "<path>", "list[", "<int", "<float"):
        assert python not in text, text
    assert "…" not in text, text  # nothing cut short
    assert re.search(r"--help\s+Show this message and exit", text), text


def test_help_lists_choices_whole_and_arguments_by_name() -> None:
    listing = " ".join(" ".join(terminal("instances", "list", "--help", columns=80)).split())
    assert "--status -s STATUS" in listing.replace("│", "").replace("  ", " ")
    for choice in ("pending", "running", "waiting", "suspended", "completed", "faulted",
                   "cancelled"):
        assert re.search(rf"\b{choice}\b", listing), listing
    validate = "\n".join(terminal("validate", "--help", columns=80))
    assert "Usage: podium validate [OPTIONS] PATH..." in validate


def test_an_output_that_is_not_json_is_an_internal_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The engine maps NaN and Infinity before; should one still reach the printer,
    # stdout gets nothing a JSON parser would choke on.
    with pytest.raises(typer.Exit) as exited:
        _report(Execution("01JD3V9Q7M4X2C8R5T6Y0B1N2K", "completed", output={"n": math.nan}))
    assert exited.value.exit_code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "internal error" in captured.err and "not JSON" in captured.err
