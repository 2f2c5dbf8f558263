"""Reading documents: YAML 1.2 and JSON, positions, and problems worth reading."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

import podium.dsl
from podium.dsl import InvalidWorkflowError, Problem, load, validate
from tests.dsl.samples import DOCUMENT, TASKS, with_task

HEAD = """\
document:
  dsl: '1.0.3'
  namespace: test
  name: loader
  version: '0.1.0'
"""


def yaml(body: str) -> str:
    """``HEAD`` (lines 1-5) followed by ``body``, whose first line is line 6."""
    return HEAD + textwrap.dedent(body)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_public_names() -> None:
    assert podium.dsl.__all__ == [
        "Definition", "InvalidWorkflowError", "Problem", "load", "model", "validate"
    ]


# --- YAML 1.2 and JSON ---------------------------------------------------------------------------


def test_on_stays_a_string_key_in_schedule() -> None:
    definition = load(yaml("""\
        schedule:
          on:
            one:
              with:
                type: com.example.ready
        do:
          - start:
              set: {ok: yes}
        """))
    assert list(definition.raw["schedule"]) == ["on"]
    schedule = definition.model.schedule
    assert schedule is not None and schedule.on is not None and schedule.on.one is not None
    assert schedule.on.one.with_.type == "com.example.ready"
    # YAML 1.1 booleans are plain strings in YAML 1.2.
    assert definition.raw["do"][0]["start"]["set"] == {"ok": "yes"}


def test_yaml_timestamps_become_iso_strings() -> None:
    definition = load(yaml("""\
        do:
          - stamp:
              set: {at: 2024-05-01T10:00:00Z}
        """))
    assert definition.raw["do"][0]["stamp"]["set"]["at"] == "2024-05-01T10:00:00+00:00"


@pytest.mark.parametrize("indent", [None, 2, "\t"], ids=["one-line", "spaces", "tabs"])
def test_json_text_loads(indent: int | str | None) -> None:
    doc = with_task(TASKS["set"])
    definition = load(json.dumps(doc, indent=indent))
    assert definition.raw == doc


def test_json_file_loads_and_locates_problems(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(with_task({**TASKS["set"], "bogus": 1}), indent=2))
    problem = only(validate(path))
    assert problem.file == str(path)
    assert problem.pointer == "/do/0/t/bogus"
    assert (problem.line, problem.column) == (path.read_text().splitlines().index(
        '        "bogus": 1') + 1, 9)


def test_a_long_one_line_json_document_is_not_taken_for_a_file_name() -> None:
    doc = with_task(TASKS["set"], **{f"x-{i}": "padding" * 10 for i in range(20)})
    text = json.dumps(doc)
    assert len(text) > 1000
    assert load(text).raw == doc


def test_a_mapping_loads_as_is() -> None:
    doc = with_task(TASKS["wait"])
    definition = load(doc)
    assert definition.raw == doc
    assert definition.qualified_name == "mutant.test:0.1.0"


# --- syntax --------------------------------------------------------------------------------------


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    text = yaml("""\
        do:
          - a:
              set:
                x: 1
                y: 2
                x: 3
        do: []
        """)
    problems = validate(text, "flow.yaml")
    assert [str(p) for p in problems] == [
        "flow.yaml:11:9: /do/0/a/set/x: duplicate key 'x' (first defined at line 9)",
        "flow.yaml:12:1: /do: duplicate key 'do' (first defined at line 6)",
    ]


def test_a_duplicate_key_message_does_not_quote_the_values() -> None:
    big = "\n".join(f"  - t{i}:\n      set: {{x: {i}}}" for i in range(50))
    problem = only(validate(HEAD + "do:\n" + big + "\ndo: []\n"))
    assert problem.message == "duplicate key 'do' (first defined at line 6)"


@pytest.mark.parametrize(
    ("body", "line", "column", "words"),
    [
        ("do:\n  - a:\n      set: {x: 1\n", 9, 1, "expected ',' or '}'"),
        ("do:\n  - a:\n      set: 'x\n", 9, 1, "unexpected end of stream"),
        ("do:\n  - a:\n    set: {}\n     b: 1\n", 9, 6, "expected <block end>"),
        ("do:\n\t- a: {set: {x: 1}}\n", 7, 1, "not tabs"),
    ],
    ids=["unclosed-mapping", "unclosed-quote", "bad-indentation", "tab"],
)
def test_syntax_errors_give_line_and_column(body: str, line: int, column: int, words: str) -> None:
    problem = only(validate(HEAD + body, "flow.yaml"))
    assert (problem.file, problem.line, problem.column, problem.pointer) == (
        "flow.yaml", line, column, "/"
    )
    assert problem.message.startswith("invalid YAML: ")
    assert words in problem.message


def test_load_raises_with_every_problem() -> None:
    text = yaml("""\
        do:
          - a:
              sett: {x: 1}
          - b:
              wait: PT
        """)
    with pytest.raises(InvalidWorkflowError) as caught:
        load(text, "flow.yaml")
    assert str(caught.value).splitlines() == [
        "flow.yaml:7:5: /do/0/a: not a task: unknown kind 'sett' (did you mean 'set'?)",
        "flow.yaml:10:7: /do/1/b/wait: 'PT' is neither an ISO 8601 duration (e.g. PT30S) nor an "
        "expression",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the document is empty"), ("# nothing\n", "the document is empty"),
     ("- a\n- b\n", "a workflow document must be a mapping, not a list")],
    ids=["empty", "comment", "list"],
)
def test_not_a_document(text: str, message: str) -> None:
    assert only(validate(text)).message == message


# --- files ---------------------------------------------------------------------------------------


def test_a_missing_file_is_a_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    problem = only(validate(path))
    assert (problem.file, problem.line, problem.pointer) == (str(path), 1, "/")
    assert problem.message == "cannot read file: No such file or directory"
    with pytest.raises(InvalidWorkflowError, match="cannot read file"):
        load(str(path))


@pytest.mark.parametrize("name", ["flows/missing.yml", "flows/missing"])
def test_a_one_line_string_without_a_key_is_a_file_name(name: str) -> None:
    problem = only(validate(name))
    assert problem.file == name
    assert "No such file or directory" in problem.message


def test_a_directory_is_not_a_document(tmp_path: Path) -> None:
    assert "Is a directory" in only(validate(tmp_path)).message


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(HEAD.encode() + b"do: []\n# caf\xe9\n")
    assert "not UTF-8" in only(validate(path)).message


def test_a_file_loads_under_its_path(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(yaml("do:\n  - a:\n      wait: PT1S\n"))
    assert load(path).source == str(path)
    assert load(str(path), "named").source == "named"


# --- problems: where and what --------------------------------------------------------------------


def test_problems_name_the_field_pointer_and_its_line() -> None:
    text = yaml("""\
        do:
          - getPet:
              call: http
              with:
                method: get
                endpoint: petstore/pets
        """)
    problem = only(validate(text, "flow.yaml"))
    assert str(problem) == (
        "flow.yaml:11:9: /do/0/getPet/with/endpoint: 'petstore/pets' is not an absolute URI "
        "(scheme://...) nor a runtime expression"
    )


def test_two_tasks_in_one_item_point_at_the_item() -> None:
    text = yaml("""\
        do:
          - first:
              set: {x: 1}
            second:
              set: {x: 2}
        """)
    problem = only(validate(text))
    assert (problem.line, problem.column, problem.pointer) == (7, 5, "/do/0")
    assert "found 2 ('first', 'second')" in problem.message


def test_an_item_with_two_tasks_does_not_hide_problems_of_other_items() -> None:
    text = yaml("""\
        do:
          - first:
              set: {x: 1}
            second:
              set: {x: 2}
          - third:
              wait: soon
        """)
    assert [p.pointer for p in validate(text)] == ["/do/0", "/do/1/third/wait"]


def test_null_is_not_leaving_a_property_out() -> None:
    problem = only(validate(with_task({**TASKS["set"], "then": None})))
    assert (problem.pointer, problem.message) == (
        "/do/0/t/then", "must not be null (leave the property out instead)"
    )


@pytest.mark.parametrize(
    ("body", "pointer", "message"),
    [
        ({"set": {"x": 1}, "timeout": 5}, "/do/0/t/timeout",
         "must be a timeout (an object with 'after') or the name of one in use.timeouts"),
        ({"wait": 30}, "/do/0/t/wait",
         "must be an ISO 8601 duration (e.g. PT30S), a runtime expression, or an object of days, "
         "hours, minutes, seconds, milliseconds"),
        ({"set": 3}, "/do/0/t/set", "must be a non-empty object or a runtime expression"),
        ({"set": {}}, "/do/0/t/set", "must not be empty"),
        ({"raise": {"error": {"type": "https://a.io/e"}}}, "/do/0/t/raise/error/status",
         "missing required property 'status'"),
        ({"call": "http", "with": {"method": "get", "endpoint": "https://a.io", "output": "x"}},
         "/do/0/t/with/output", "must be 'raw', 'content' or 'response'"),
        ({"call": "http", "with": {"method": "get", "endpoint": 7}}, "/do/0/t/with/endpoint",
         "must be a URI, a runtime expression, or an object with 'uri'"),
        ({"call": "http", "with": {"method": "get", "endpoint": "https://a.io", "headers": {
            "n": 1}}}, "/do/0/t/with/headers/n", "must be a string"),
        ({"set": {"x": 1}, "if": True}, "/do/0/t/if", "must be a string"),
        ({"call": "http", "with": {"methd": "get", "endpoint": "https://a.io"}},
         "/do/0/t/with/methd", "unknown property 'methd' (did you mean 'method'?)"),
    ],
    ids=["timeout", "duration", "set-type", "set-empty", "missing", "enum", "endpoint",
         "header", "if", "misspelt-required"],
)
def test_one_mistake_is_one_problem_in_words_of_the_dsl(
    body: dict[str, Any], pointer: str, message: str
) -> None:
    problem = only(validate(with_task(body)))
    assert (problem.pointer, problem.message) == (pointer, message)


@pytest.mark.parametrize("kind", list(TASKS))
def test_a_typo_in_a_task_property_is_one_problem(kind: str) -> None:
    problem = only(validate(with_task({**TASKS[kind], "iff": "${ true }"})))
    assert problem.pointer == "/do/0/t/iff"


@pytest.mark.parametrize("kind", list(TASKS))
def test_a_typo_in_the_task_kind_is_one_problem(kind: str) -> None:
    key = next(iter(TASKS[kind]))  # call, do, for, ...
    body = {(f"{k}x" if k == key else k): v for k, v in TASKS[kind].items()}
    problem = only(validate(with_task(body)))
    assert problem.pointer.startswith("/do/0/t")
    assert f"'{key}x'" in problem.message


def test_a_misspelt_required_property_is_one_problem() -> None:
    document = {**{k: v for k, v in DOCUMENT.items() if k != "name"}, "nmae": "x"}
    problem = only(validate({"document": document, "do": []}))
    assert (problem.pointer, problem.message) == (
        "/document/nmae", "unknown property 'nmae' (did you mean 'name'?)"
    )
