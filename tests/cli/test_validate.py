"""``podium validate``: every problem of every file, directories, and the same
verdict as ``run`` and ``deploy`` (issue 7, items 2 and 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import invoke, podium, workflow

HEADER = "document: {dsl: '1.0.3', namespace: test, name: v, version: '0.1.0'}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_directory_stands_for_its_workflow_files_in_sorted_order(tmp_path: Path) -> None:
    good = "do:\n  - a:\n      set: {v: 1}\n"
    write(tmp_path / "b.yaml", HEADER + good)
    write(tmp_path / "a" / "z.yml", HEADER + good)
    write(tmp_path / "a" / "input.json", '{"name": "Ada"}')  # not a workflow: its problems
    write(tmp_path / "c.json",
          '{"document": {"dsl": "1.0.3", "namespace": "t", "name": "c", "version": "1.0.0"},'
          ' "do": []}')
    write(tmp_path / "notes.txt", "not looked at")
    write(tmp_path / ".hidden" / "broken.yaml", "::: not looked at")
    write(tmp_path / ".also-hidden.yaml", "::: not looked at")
    code, stdout, stderr = invoke("validate", tmp_path)
    assert (code, stderr) == (2, "")
    assert stdout.splitlines() == [
        f"{tmp_path / 'a' / 'input.json'}:1:1: /document: missing required property 'document'",
        f"{tmp_path / 'a' / 'input.json'}:1:1: /do: missing required property 'do'",
        f"{tmp_path / 'a' / 'z.yml'}: valid",
        f"{tmp_path / 'b.yaml'}: valid",
        f"{tmp_path / 'c.json'}: valid",
    ]


def test_a_directory_without_workflow_files_is_said_so(tmp_path: Path) -> None:
    write(tmp_path / "empty" / "readme.md", "nothing here")
    good = workflow(tmp_path, "good", "  - a:\n      set: {v: 1}\n")
    code, stdout, _ = invoke("validate", tmp_path / "empty", good)
    assert code == 2
    assert stdout.splitlines() == [
        f"{tmp_path / 'empty'}: no workflow files (*.yaml, *.yml, *.json) in this directory",
        f"{good}: valid",
    ]


def test_a_directory_of_valid_workflows_exits_zero(tmp_path: Path) -> None:
    workflow(tmp_path, "one", "  - a:\n      set: {v: 1}\n")
    workflow(tmp_path, "two", "  - a:\n      wait: PT1S\n")
    code, stdout, _ = invoke("validate", tmp_path)
    assert code == 0
    assert len(stdout.splitlines()) == 2


def test_an_unknown_task_kind_does_not_stop_validation(tmp_path: Path) -> None:
    path = workflow(tmp_path, "kinds", """\
  - a:
      foo: {}
  - b:
      set: {v: '${ nope }'}
      then: nowhere
""")
    code, stdout, _ = invoke("validate", path)
    assert code == 2
    assert [line.split(": ", 2)[1] for line in stdout.splitlines()] == [
        "/do/0/a", "/do/1/b/set/v", "/do/1/b/then",
    ]


NOT_JSON = {
    "custom-tag": "      set: {v: !foo bar}\n",
    "binary": "      set: {v: !!binary aGVsbG8=}\n",
    "set": "      set: {v: !!set {a, b}}\n",
    "python": "      set:\n        v: !!python/name:os.system ''\n",
    "complex-key": "      set:\n        ? [a, b]\n        : 1\n",
    "null-key": "      set:\n        ~: 1\n",
    "infinity": "      set: {v: .inf}\n",
    "huge-duration": "      wait: {days: 1000000000}\n",
    "huge-timeout": "      timeout: {after: P99999999999999D}\n      wait: PT1S\n",
}


@pytest.mark.parametrize("task", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_validate_run_and_deploy_give_the_same_verdict(task: str, tmp_path: Path) -> None:
    # Before, validate said "valid" and run crashed with a TypeError traceback.
    path = workflow(tmp_path, "data", "  - t:\n" + task)
    validated = podium("validate", path)
    assert validated.returncode == 2
    problems = validated.stdout.splitlines()
    assert problems and all(line.startswith(f"{path}:") for line in problems)
    ran = podium("run", path)
    deployed = podium("deploy", path, "--store", f"sqlite:///{tmp_path / 'p.db'}")
    for result in (ran, deployed):
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr.splitlines() == problems
        assert "Traceback" not in result.stderr


def test_a_control_character_is_one_located_line(tmp_path: Path) -> None:
    path = workflow(tmp_path, "bell", "  - t:\n      set: {v: \"bell\x07here\"}\n")
    result = podium("validate", path)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"{path}:8:21: /: invalid YAML: the control character U+0007 is not allowed in a "
        "document (write it as an escape, \\x07, in a double-quoted string)"
    ]


def test_a_hostile_document_is_refused_quickly_in_a_child(tmp_path: Path) -> None:
    # The 1 KB "billion laughs" took 3.8 GB and a minute; now one line, at once.
    lines = ["        a0: &a0 [lol]"] + [
        f"        a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)
    ]
    path = workflow(tmp_path, "laughs", "  - t:\n      set:\n" + "\n".join(lines) + "\n")
    result = podium("validate", path)
    assert result.returncode == 2
    [line] = result.stdout.splitlines()
    assert line.endswith("aliases expand to more than 10,000 nodes")
