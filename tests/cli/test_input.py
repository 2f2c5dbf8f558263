"""``--input`` is strict JSON within the limits, for ``run`` and ``start`` alike
(issue 7, item 1): one clear line and exit 2, nothing recorded, no traceback.
Before, an input nested 1,000 levels crashed both with a RecursionError, and
``NaN`` was taken as a number."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES
from tests.cli.support import EXAMPLES, invoke, ok, podium

HELLO = EXAMPLES / "hello.yaml"

BAD_INPUTS = {
    "nan": ('{"name": NaN}',
            "is not valid JSON: NaN is not a JSON number (JSON has no NaN or infinity) "
            "(line 1, column 10)"),
    "infinity": ("[Infinity]",
                 "is not valid JSON: Infinity is not a JSON number (JSON has no NaN or "
                 "infinity) (line 1, column 2)"),
    "trailing-comma": ('{"name": "Ada",}',
                       "is not valid JSON: trailing comma (JSON allows none) (line 1, column 15)"),
    "nested-1000": ("[" * 1000 + "]" * 1000,
                    f"is nested deeper than {MAX_DEPTH} levels (line 1, column {MAX_DEPTH + 1})"),
    "nested-100000": ("[" * 100_000 + "]" * 100_000,
                      f"is nested deeper than {MAX_DEPTH} levels (line 1, column "
                      f"{MAX_DEPTH + 1})"),
    "lone-surrogate": ('{"name": "\\ud800"}', ": /name: not valid Unicode (a lone surrogate)"),
    "not-json": ("name=Ada", "is not valid JSON: Expecting value (line 1, column 1)"),
}


@pytest.mark.parametrize(("text", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
@pytest.mark.parametrize("given", ["inline", "file"])
def test_a_bad_input_is_refused_by_run_and_start(
    text: str, message: str, given: str, tmp_path: Path, sqlite: str
) -> None:
    argument, where = text, "--input"
    if given == "file":
        path = tmp_path / "input.json"
        path.write_text(text, encoding="utf-8")
        argument, where = f"@{path}", f"--input file {path}"
    for command in (["run", HELLO], ["start", HELLO, "--store", sqlite]):
        code, stdout, stderr = invoke(*command, "--input", argument)
        assert (code, stdout) == (2, "")
        assert stderr == f"error: {where}{' ' if not message.startswith(':') else ''}{message}\n"
    assert "[]" in ok("instances", "list", "--json", "--store", sqlite)  # nothing recorded


def test_an_input_file_over_the_payload_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(64 * 1024**3)  # sparse: 64 GiB that take no disk
    code, _, stderr = invoke("run", HELLO, "--input", f"@{path}")
    assert code == 2
    assert stderr == (
        f"error: --input file {path} is larger than the limit of {MAX_PAYLOAD_BYTES:,} bytes\n"
    )


def test_an_input_at_the_limits_is_accepted(tmp_path: Path) -> None:
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    text = '{"name": "Ada", "pad": ' + nested + "}"  # the object makes it one level deeper
    code, _, stderr = invoke("run", HELLO, "--input", text)
    assert code == 2 and "nested deeper" in stderr
    text = '{"name": "Ada", "pad": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    assert '"Hello, Ada!"' in ok("run", HELLO, "--input", text)


def test_a_refused_input_never_prints_a_traceback() -> None:
    # 60,000 levels: as deep as one argument of a command line can carry.
    result = podium("run", HELLO, "--input", "[" * 60_000 + "]" * 60_000)
    assert (result.returncode, result.stdout) == (2, "")
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --input is nested deeper than")
