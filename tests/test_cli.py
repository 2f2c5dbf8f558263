"""The ``podium`` command's contract: what goes to stdout and stderr, and the exit codes.

Most cases run the CLI as a real subprocess, the way other tools call it;
CliRunner covers the cases where being in-process is simpler.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium import __version__
from podium.cli import app
from tests.support.spec import REPO, SPEC_DIR

EXAMPLES = REPO / "examples"
ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"
LOCATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<pointer>/\S*): (?P<msg>.+)$")
HEADER = "document:\n  dsl: '1.0.3'\n  namespace: test\n  name: cli\n  version: '0.1.0'\n"


def podium(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, stdin closed, colours off."""
    environ = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    environ.update({"NO_COLOR": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-c", "from podium.cli import main; main()", *map(str, args)],
        capture_output=True, text=True, encoding="utf-8", stdin=subprocess.DEVNULL,
        env=environ, cwd=REPO, timeout=60,
    )


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def last_line_problem(stderr: str) -> dict[str, Any]:
    problem = json.loads(stderr.rstrip("\n").splitlines()[-1])
    assert isinstance(problem, dict)
    return problem


def assert_located(lines: Sequence[str], file: Path | str) -> list[re.Match[str]]:
    """Every line is ``file:line:col: /pointer: message`` about ``file``."""
    assert lines, "expected at least one problem line"
    matches = []
    for line in lines:
        match = LOCATED.match(line)
        assert match, f"not a located problem: {line!r}"
        assert match["file"] == str(file)
        assert int(match["line"]) >= 1 and int(match["col"]) >= 1
        matches.append(match)
    return matches


# -- podium run: completed -------------------------------------------------------------------


def test_completed_output_is_one_json_document_on_stdout() -> None:
    result = podium("run", "examples/hello.yaml", "--input", '{"name": "Ada"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, Ada!"}
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("example", "args", "output"),
    [
        ("hello.yaml", [], {"greeting": "Hello, world!"}),
        ("orders.yaml", ["--input", "@examples/orders.json"],
         {"total": 110, "skipped": ["A-2"], "shipping": 0}),
        ("orders.yaml", ["--input", '{"orders": [{"id": "B", "price": 3, "quantity": 2}]}'],
         {"total": 10.5, "skipped": [], "shipping": 4.5}),
        ("retry.yaml", [], {"attempts": 3, "fallback": "used the cached price",
                            "caught": ERRORS + "communication"}),
        ("fault.yaml", ["--input", '{"amount": 5}'], {"accepted": 5}),
    ],
    ids=["hello", "orders-free-shipping", "orders-paid-shipping", "retry", "fault-accepted"],
)
def test_examples_run(example: str, args: list[str], output: Any) -> None:
    result = podium("run", f"examples/{example}", *args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == output


def test_every_example_is_valid() -> None:
    examples = sorted(EXAMPLES.glob("*.yaml"))
    result = podium("validate", *examples)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [f"{path}: valid" for path in examples]


def test_verbose_shows_tasks_on_stderr_only() -> None:
    result = podium("run", "examples/orders.yaml", "--input", "@examples/orders.json",
                    "--verbose")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 110
    assert "/do/0/tally/do/0/addOrder" in result.stderr
    assert "/do/2/freeShipping completed" in result.stderr
    assert "/do/3/paidShipping" not in result.stderr  # skipped by the switch: never started


# -- podium run: faulted ---------------------------------------------------------------------


def test_fault_is_problem_details_on_the_last_stderr_line() -> None:
    result = podium("run", "examples/fault.yaml", "--input", '{"amount": -5}')
    assert result.returncode == 1
    assert result.stdout == ""
    problem = last_line_problem(result.stderr)
    assert problem == {
        "type": ERRORS + "validation",
        "status": 400,
        "title": "Invalid amount",
        "detail": "amount must not be negative, got -5",
        "instance": "/do/1/reject",
    }
    human = result.stderr.splitlines()[:-1]
    assert human and "/do/1/reject" in human[-1] and "Invalid amount" in human[-1]


def test_unsupported_task_kind_faults_naming_the_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "shell.yaml", """\
do:
  - greet:
      run:
        shell:
          command: echo hello
""")
    result = podium("run", path)
    assert result.returncode == 1
    problem = last_line_problem(result.stderr)
    assert {"type", "status", "instance"} <= problem.keys()
    assert problem["instance"] == "/do/0/greet"
    assert "run: shell" in problem["detail"]
    assert "Traceback" not in result.stderr


# -- podium run: invalid document or input ---------------------------------------------------


def test_invalid_document_is_refused_with_its_location(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", """\
do:
  - greet:
      set:
        hello: world
      outptu:
        as: .hello
""")
    result = podium("run", path, "--verbose")
    assert result.returncode == 2
    assert result.stdout == ""
    [match] = assert_located(result.stderr.splitlines(), path)
    assert (match["line"], match["col"]) == ("10", "7")
    assert match["pointer"] == "/do/0/greet/outptu"
    assert "▶" not in result.stderr  # nothing ran


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "do:\n  - greet:\n      set: {a: 1\n")
    code, _, stderr = invoke("run", path)
    assert code == 2
    assert_located(stderr.splitlines(), path)


@pytest.mark.parametrize("path", ["missing.yaml", "."], ids=["missing", "directory"])
def test_unreadable_workflow_file(path: str) -> None:
    code, _, stderr = invoke("run", path)
    assert code == 2
    assert_located(stderr.splitlines(), path)
    assert "cannot read file" in stderr


def test_binary_workflow_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, _, stderr = invoke("run", path)
    assert code == 2
    assert_located(stderr.splitlines(), path)


def test_problem_lines_never_wrap(tmp_path: Path) -> None:
    name = "a-rather-long-task-name-that-would-wrap-in-a-narrow-terminal"
    path = write(tmp_path, "wide.yaml", f"do:\n  - {name}:\n      sett: {{}}\n")
    result = podium("run", path, env={"COLUMNS": "40"})
    assert result.returncode == 2
    for match in assert_located(result.stderr.splitlines(), path):
        assert name in match["pointer"]


def test_input_from_file(tmp_path: Path) -> None:
    data = tmp_path / "input.json"
    data.write_text('{"name": "Grace"}', encoding="utf-8")
    result = podium("run", "examples/hello.yaml", "--input", f"@{data}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, Grace!"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"name": ', "--input is not valid JSON"),
        ("name=Ada", "--input is not valid JSON"),
        ("@no/such/input.json", "cannot read --input file no/such/input.json"),
        ("@examples/hello.yaml", "--input file examples/hello.yaml is not valid JSON"),
    ],
    ids=["truncated", "not-json", "missing-file", "file-not-json"],
)
def test_bad_input_is_refused(value: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, stdout, stderr = invoke("run", "examples/hello.yaml", "--input", value)
    assert code == 2
    assert stdout == ""
    assert message in stderr


# -- podium validate -------------------------------------------------------------------------


def test_validate_lists_every_problem_of_every_file(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", "do:\n  - greet:\n      set:\n        a: 1\n")
    shape = write(tmp_path, "shape.yaml", """\
do:
  - first:
      set:
        a: 1
      bogus: true
  - second:
      wait: soon
""")
    flow = write(tmp_path, "flow.yaml", """\
do:
  - route:
      switch:
        - go:
            then: nowhere
  - compute:
      set:
        b: ${ .a | nope }
""")
    result = podium("validate", good, shape, flow)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert f"{good}: valid" in lines

    def problems(path: Path) -> dict[str, tuple[int, int]]:
        found = assert_located([line for line in lines if line.startswith(f"{path}:")], path)
        return {m["pointer"]: (int(m["line"]), int(m["col"])) for m in found}

    assert problems(shape) == {"/do/0/first/bogus": (10, 7), "/do/1/second/wait": (12, 7)}
    assert problems(flow) == {
        "/do/0/route/switch/0/go/then": (10, 13), "/do/1/compute/set/b": (13, 9)
    }
    assert len(lines) == 5


def test_validate_all_valid_exits_zero() -> None:
    assert invoke("validate", EXAMPLES / "hello.yaml") == (
        0, f"{EXAMPLES / 'hello.yaml'}: valid\n", ""
    )


def test_validate_needs_a_file() -> None:
    assert invoke("validate")[0] == 2


INVALID = sorted(SPEC_DIR.glob("invalid/*.yaml"))


def test_spec_invalid_documents_are_present() -> None:
    # An empty parameter list would skip the next test silently.
    assert INVALID, f"no documents in {SPEC_DIR / 'invalid'}; set PODIUM_SPEC_DIR"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_spec_invalid_documents_are_refused(path: Path) -> None:
    ran = podium("run", path)
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert_located(ran.stderr.splitlines(), path)
    checked = podium("validate", path)
    assert checked.returncode == 2
    assert_located(checked.stdout.splitlines(), path)


# -- the command itself ----------------------------------------------------------------------


def test_version() -> None:
    assert invoke("--version") == (0, f"podium {__version__}\n", "")


def test_in_process_run_matches_the_contract() -> None:
    code, stdout, stderr = invoke("run", EXAMPLES / "fault.yaml", "--input", '{"amount": -1}')
    assert code == 1
    assert stdout == ""
    assert last_line_problem(stderr)["instance"] == "/do/1/reject"
    code, stdout, _ = invoke("run", EXAMPLES / "hello.yaml", "--input", '{"name": "Lin"}')
    assert (code, json.loads(stdout)) == (0, {"greeting": "Hello, Lin!"})


def test_console_script_is_installed() -> None:
    script = shutil.which("podium", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the podium console script is not installed next to this interpreter")
    result = subprocess.run(
        [script, "run", "examples/hello.yaml", "--input", '{"name": "Ada"}'],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=REPO, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, Ada!"}
