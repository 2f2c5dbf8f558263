"""``podium deploy`` and ``podium workflows list``."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.support import EXAMPLES, as_json, invoke, ok, workflow


def test_deploy_then_list(tmp_path: Path, sqlite: str) -> None:
    first = workflow(tmp_path, "flow", "  - a:\n      set: {a: 1}\n", "1.0.0")
    second = workflow(tmp_path, "flow", "  - a:\n      set: {a: 2}\n", "1.1.0")
    assert ok("deploy", first, second, EXAMPLES / "hello.yaml", "--store", sqlite) == (
        "test/flow:1.0.0 deployed\ntest/flow:1.1.0 deployed\nexamples/hello:0.1.0 deployed\n"
    )
    assert ok("deploy", first, "--store", sqlite) == "test/flow:1.0.0 unchanged\n"
    listed = as_json("workflows", "list", "--store", sqlite)
    assert [(d["namespace"], d["name"], d["version"]) for d in listed] == [
        ("examples", "hello", "0.1.0"), ("test", "flow", "1.0.0"), ("test", "flow", "1.1.0")
    ]
    assert all(d["createdAt"].endswith("Z") for d in listed)
    table = ok("workflows", "list", "--store", sqlite).splitlines()
    assert table[0].split() == ["workflow", "deployed"]
    assert [line.split()[0] for line in table[1:]] == [
        "examples/hello:0.1.0", "test/flow:1.0.0", "test/flow:1.1.0"
    ]


def test_deploy_another_document_under_a_deployed_version(tmp_path: Path, sqlite: str) -> None:
    ok("deploy", workflow(tmp_path, "flow", "  - a:\n      set: {a: 1}\n"), "--store", sqlite)
    (tmp_path / "edited").mkdir()
    edited = workflow(tmp_path / "edited", "flow", "  - a:\n      set: {a: 2}\n")
    code, stdout, stderr = invoke("deploy", edited, EXAMPLES / "hello.yaml", "--store", sqlite)
    assert code == 1
    assert stdout == "examples/hello:0.1.0 deployed\n"  # the others still deploy
    assert "test/flow:0.1.0 is already deployed with another document" in stderr


def test_deploy_refuses_invalid_documents_and_deploys_nothing(tmp_path: Path, sqlite: str) -> None:
    bad = workflow(tmp_path, "bad", "  - a:\n      sett: {}\n")
    code, stdout, stderr = invoke("deploy", EXAMPLES / "hello.yaml", bad, "--store", sqlite)
    assert (code, stdout) == (2, "")
    [line] = stderr.splitlines()  # the validate format: file:line:col: /pointer: message
    assert re.match(rf"^{re.escape(str(bad))}:7:5: /do/0/a: .*'sett'", line)
    assert as_json("workflows", "list", "--store", sqlite) == []


def test_workflows_list_of_an_empty_store(sqlite: str) -> None:
    assert as_json("workflows", "list", "--store", sqlite) == []
