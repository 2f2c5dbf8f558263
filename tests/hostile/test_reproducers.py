"""Every hostile input issue 7 reported, run as a user runs podium: in a child process,
bounded in time and memory. None may crash a process, print a traceback or run
without bound; documents and inputs are refused (exit 2) before anything runs, and
what goes wrong at run time faults the instance (exit 1, RFC 7807 on stderr)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.hostile import documents as d
from tests.hostile.harness import CliResult, behaved, podium, problem_of, strict_json

EXPRESSION = "https://serverlessworkflow.io/spec/1.0.0/errors/expression"
TIMEOUT = "https://serverlessworkflow.io/spec/1.0.0/errors/timeout"
AUTHORIZATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def written(text: str, name: str = "workflow.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return written


def refused(result: CliResult) -> list[str]:
    """The problem lines of a refused document: each ``file:line:col: /pointer: message``."""
    behaved(result, [2])
    output = result.stdout if result.args[0] == "validate" else result.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, str(result)
    for line in lines:
        location = line.split(": ", 1)[0]
        assert location.count(":") >= 2, f"no file:line:col in {line!r}\n{result}"
    return lines


# -- documents refused before they run -------------------------------------------------------

REFUSED_DOCUMENTS = {
    "set-nested-250": lambda: d.nested_set(250),
    "set-nested-1000": lambda: d.nested_set(1000),
    "block-nested-1000": lambda: d.nested_block(1000),
    "json-nested-100000": lambda: d.nested_json(100_000),
    **{f"yaml-tag-{name}": (lambda value=value: d.tagged(value)) for name, value in d.TAGS.items()},
    "complex-key": d.complex_key,
    "null-key": d.null_key,
    "control-character": d.control_character,
    "json-trailing-comma": d.json_trailing_comma,
    "timeout-P99999999999999D": d.huge_timeout,
    "wait-1e9-days": d.huge_wait,
    "alias-bomb-9x9": d.alias_bomb,
    "alias-bomb-10e6": lambda: d.alias_bomb(levels=7, width=10),
    "jq-compile-bomb": d.compile_bomb,
    "jq-compile-bomb-x4": lambda: d.compile_bomb(4),
    "oversized-2MiB": lambda: d.oversized(2 * 1024 * 1024),
}


@pytest.mark.parametrize("build", REFUSED_DOCUMENTS.values(), ids=REFUSED_DOCUMENTS.keys())
@pytest.mark.parametrize("command", ["validate", "run", "deploy"])
def test_a_hostile_document_is_refused_before_it_runs(
    build: Callable[[], str], command: str, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    path = write(build(), "workflow.json" if build().startswith("{") else "workflow.yaml")
    extra = ["--store", f"sqlite:///{tmp_path / 'podium.db'}"] if command == "deploy" else []
    result = podium(command, str(path), *extra, timeout=30)
    lines = refused(result)
    assert all(str(path) in line for line in lines), str(result)


def test_a_control_character_is_reported_where_it_is(write: Callable[[str, str], Path]) -> None:
    text = d.control_character()
    path = write(text)
    [line] = refused(podium("validate", str(path)))
    row = next(i for i, source in enumerate(text.splitlines(), 1) if "\x07" in source)
    assert f":{row}:" in line, line


def test_a_long_comment_validates_in_linear_time(write: Callable[[str, str], Path]) -> None:
    path = write(d.long_comment(1_000_000))
    result = behaved(podium("validate", str(path), timeout=30), [0])
    assert "valid" in result.stdout


# -- inputs refused before they run ----------------------------------------------------------

BAD_INPUTS = {
    "nested-1000": d.nested_input(1000),
    "nested-100000": d.nested_input(100_000),
    "nan": '{"v": NaN}',
    "infinity": "[Infinity]",
}


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
@pytest.mark.parametrize("how", ["inline", "file"])
def test_a_hostile_input_is_refused(text: str, how: str, write: Callable[[str, str], Path],
                                    tmp_path: Path) -> None:
    if how == "inline" and len(text) > 100_000:
        text = text[:10_000] + text[-10_000:]  # one argument holds at most 128 KiB
    workflow = write(d.one_task("echo", "      set: {v: '${ . }'}\n"))
    given = text if how == "inline" else "@" + str(write(text, "input.json"))
    for command in (["run", str(workflow)],
                    ["start", str(workflow), "--store", f"sqlite:///{tmp_path / 'p.db'}"]):
        result = behaved(podium(*command, "--input", given, timeout=30), [2])
        assert "--input" in result.stderr, str(result)


# -- faults at run time ------------------------------------------------------------------------


def faulted(result: CliResult, error_type: str) -> dict[str, object]:
    behaved(result, [1])
    problem = problem_of(result)
    assert problem["type"] == error_type, str(result)
    return problem


def test_data_built_too_deep_by_jq_faults(write: Callable[[str, str], Path]) -> None:
    faulted(podium("run", str(write(d.built_deep_data()))), EXPRESSION)


@pytest.mark.parametrize("store", [False, True], ids=["memory", "store"])
def test_a_runaway_expression_obeys_its_task_timeout(
    store: bool, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    extra = ["--store", f"sqlite:///{tmp_path / 'p.db'}"] if store else []
    result = podium("run", str(write(d.runaway("PT1S"))), *extra, timeout=30)
    problem = faulted(result, TIMEOUT)
    assert problem["instance"] == "/do/0/only"


def test_a_runaway_expression_without_timeout_ends_at_its_budget(
    write: Callable[[str, str], Path]
) -> None:
    # The expression budget (10 s by default) ends it: a timeout, not a frozen process.
    faulted(podium("run", str(write(d.runaway(None))), timeout=45), TIMEOUT)


def test_an_expression_that_aborts_libjq_faults_only_its_instance(
    write: Callable[[str, str], Path]
) -> None:
    faulted(podium("run", str(write(d.libjq_abort())), timeout=45), EXPRESSION)


def test_a_workflow_timeout_fires_around_a_then_cycle(write: Callable[[str, str], Path]) -> None:
    faulted(podium("run", str(write(d.then_cycle("PT1S"))), timeout=30), TIMEOUT)


def test_a_computed_duration_that_overflows_faults(write: Callable[[str, str], Path]) -> None:
    behaved(podium("run", str(write(d.computed_huge_timeout()))), [1])


def test_non_finite_numbers_never_reach_stdout_as_non_json(
    write: Callable[[str, str], Path]
) -> None:
    result = behaved(podium("run", str(write(d.non_finite()))), [0])
    output = strict_json(result.stdout)
    assert output["v"] is None
    assert output["n"] == 1.7976931348623157e308 and output["m"] == -1.7976931348623157e308


def test_terminal_escapes_in_an_error_are_printed_escaped(
    write: Callable[[str, str], Path]
) -> None:
    result = behaved(podium("run", str(write(d.escapes_in_title()))), [1])
    assert "CLEARED" in result.stderr
    assert "\x07" not in result.stderr
    # The machine-readable last line keeps the exact text, as JSON escapes.
    assert problem_of(result)["title"] == "\x1b[2J\x1b[31mCLEARED"


def test_a_file_resource_cannot_escape_the_workflow_directory(
    write: Callable[[str, str], Path]
) -> None:
    result = podium("run", str(write(d.escaping_resource())))
    faulted(result, AUTHORIZATION)
    assert "root:" not in result.stdout + result.stderr


class _Deep(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ("[" * 5000 + "]" * 5000).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def deep_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deep)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/deep"
    server.shutdown()
    server.server_close()


def test_an_http_response_nested_too_deep_faults(
    deep_server: str, write: Callable[[str, str], Path]
) -> None:
    task = f"      call: http\n      with: {{method: get, endpoint: '{deep_server}'}}\n"
    document = d.one_task("deep-response", task)
    result = behaved(podium("run", str(write(document))), [1])
    problem = problem_of(result)
    assert "deep" in json.dumps(problem).lower() or "nest" in json.dumps(problem).lower()
