"""`run: script` with real interpreters: Python (this one) and JavaScript (node)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from podium.engine.errors import AUTHORIZATION, CONFIGURATION, RUNTIME
from tests.support.egress import TMP_FILES

# Scripts allowed; source files written to tmp_path readable (the egress policy).
ALLOWED = Settings(allow_run=frozenset({"script"}), allow_files=TMP_FILES.allow_files)
EXAMPLES = Path(__file__).parents[3] / "shared/spec/examples"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def script(body: str, extra: str = "") -> str:
    indented = "\n".join("          " + line for line in body.strip("\n").splitlines())
    tail = "\n".join("        " + line for line in extra.strip().splitlines())
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: script, version: '0.1.0'}}
do:
  - runScript:
      run:
        script:
{indented}
{tail}
"""


async def run(document: str, data: Any = None, settings: Settings = ALLOWED) -> Any:
    async with Runtime(settings=settings) as runtime:
        return await runtime.run(document, data)


PYTHON = """
language: python
stdin: '${ .text }'
arguments: [one, '${ .n }']
environment: {GREETING: hello}
code: |
  import os, sys
  print(sys.stdin.read().upper(), sys.argv[1:], os.environ["GREETING"])
"""


async def test_python_code_reads_stdin_arguments_and_environment() -> None:
    out = await run(script(PYTHON), {"text": "abc", "n": 2})
    assert out == "ABC ['one', '2'] hello"


async def test_python_source_file(tmp_path: Path) -> None:
    source = tmp_path / "double.py"
    source.write_text("import sys\nprint(int(sys.argv[1]) * 2)\n", encoding="utf-8")
    out = await run(script(f"""
language: python
source:
  endpoint: {source.as_uri()}
arguments: ['21']
"""))
    assert out == "42"


async def test_the_environment_of_podium_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_SECRET_TOKEN", "s3cr3t")
    out = await run(script("""
language: python
code: |
  import os
  print(sorted(os.environ))
"""))
    assert "PODIUM_SECRET_TOKEN" not in out


async def test_a_failing_script_faults_with_its_stderr() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(script("""
language: python
code: raise SystemExit("bad input")
"""))
    error = caught.value
    assert (error.type, error.status) == (RUNTIME, 500)
    assert error.detail == "the python script exited with code 1: bad input"


async def test_return_code() -> None:
    out = await run(script("language: python\ncode: raise SystemExit(7)", "return: code"))
    assert out == 7


async def test_refused_unless_the_operator_allows_it() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(script("language: python\ncode: print(1)"),
                  settings=Settings(allow_run=frozenset({"shell"})))
    assert (caught.value.type, caught.value.status) == (AUTHORIZATION, 403)
    assert "--allow-run script" in (caught.value.detail or "")


async def test_an_unknown_language_is_a_configuration_error() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(script("language: cobol\ncode: DISPLAY 'HI'"))
    assert caught.value.type == CONFIGURATION
    assert "cobol" in (caught.value.detail or "")


async def test_javascript_without_node_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WorkflowError) as caught:
        await run(script("language: javascript\ncode: console.log(1)"))
    assert caught.value.type == CONFIGURATION
    assert "node" in (caught.value.detail or "")


@needs_node
async def test_the_spec_javascript_example() -> None:
    text = (EXAMPLES / "run-script-with-stdin-and-arguments.yaml").read_text(encoding="utf-8")
    out = await run(text)
    assert out == "stdin >  Hello Workflow\narg >  hello\nenv >  bar"


@needs_node
async def test_javascript_arguments_follow_the_spec() -> None:
    out = await run(script("""
language: js
arguments: [hello, world]
code: |
  const [_, __, arg0, arg1] = process.argv;
  console.log('arg > ', arg0, arg1)
"""))
    assert out == "arg >  hello world"


async def test_not_awaited_completes_at_once_with_the_input(tmp_path: Path) -> None:
    done = tmp_path / "done"
    out = await run(script(f"""
language: python
arguments: ['{done}']
code: |
  import sys, time
  time.sleep(0.3)
  open(sys.argv[1], "w").write("done")
""", "await: false"), {"keep": 1})
    assert out == {"keep": 1}
    for _ in range(100):
        if done.exists() and done.read_text(encoding="utf-8"):
            break
        await asyncio.sleep(0.05)
    assert done.read_text(encoding="utf-8") == "done"
