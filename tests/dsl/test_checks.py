"""Static checks beyond the schema: flow targets, ``use.*`` names, expressions."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from podium.dsl import Problem, load, validate
from tests.dsl.samples import DOCUMENT, TASKS, edit, with_task, workflow

HEAD = "document: {dsl: '1.0.3', namespace: test, name: checks, version: '0.1.0'}\n"


def yaml(body: str) -> str:
    """``HEAD`` (line 1) followed by ``body``, whose first line is line 2."""
    return HEAD + textwrap.dedent(body)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- flow directives ---------------------------------------------------------------------------


def test_targets_of_the_same_list_and_directives_are_accepted() -> None:
    load(yaml("""\
        do:
          - first:
              set: {x: 1}
              then: third
          - second:
              switch:
                - big: {when: '${ .x > 1 }', then: first}
                - small: {when: '${ .x < 0 }', then: exit}
                - other: {then: continue}
          - third:
              do:
                - inner:
                    set: {y: 1}
                    then: end
        """))


def test_an_unknown_target_is_refused_where_it_is_written() -> None:
    problem = only(validate(yaml("""\
        do:
          - first:
              set: {x: 1}
              then: sceond
          - second:
              set: {x: 2}
        """), "flow.yaml"))
    assert str(problem) == (
        "flow.yaml:5:7: /do/0/first/then: flow directive 'sceond' names no task of this list "
        "(tasks here: first, second; or continue, exit, end)"
    )


def test_a_target_in_a_parent_list_is_refused() -> None:
    problem = only(validate(yaml("""\
        do:
          - outer:
              do:
                - inner:
                    set: {x: 1}
                    then: after
          - after:
              set: {y: 1}
        """)))
    assert (problem.line, problem.pointer) == (7, "/do/0/outer/do/0/inner/then")
    assert "'after' belongs to an enclosing list" in problem.message


def test_a_target_in_a_sibling_branch_is_refused() -> None:
    problem = only(validate(yaml("""\
        do:
          - race:
              fork:
                branches:
                  - left:
                      do:
                        - l1: {set: {x: 1}, then: r1}
                  - right:
                      do:
                        - r1: {set: {x: 2}}
        """)))
    assert problem.pointer == "/do/0/race/fork/branches/0/left/do/0/l1/then"


def test_a_switch_case_target_is_checked() -> None:
    problem = only(validate(yaml("""\
        do:
          - route:
              switch:
                - big: {when: '${ .x > 1 }', then: nowhere}
        """)))
    assert (problem.line, problem.pointer) == (5, "/do/0/route/switch/0/big/then")


@pytest.mark.parametrize(
    "place",
    ["try", "catch", "for", "foreach", "extension"],
)
def test_every_task_list_is_checked(place: str) -> None:
    bad = [{"a": {"set": {"x": 1}, "then": "missing"}}]
    body: dict[str, Any]
    top: dict[str, Any] = {}
    if place == "try":
        body = {"try": bad, "catch": {}}
    elif place == "catch":
        body = {"try": [{"b": TASKS["set"]}], "catch": {"do": bad}}
    elif place == "for":
        body = {**TASKS["for"], "do": bad}
    elif place == "foreach":
        body = {**TASKS["listen"], "foreach": {"do": bad}}
    else:
        body = TASKS["set"]
        top = {"use": {"extensions": [{"log": {"extend": "all", "before": bad}}]}}
    problem = only(validate(with_task(body, **top)))
    assert problem.pointer.endswith("/0/a/then")
    assert "'missing'" in problem.message


# --- use.* references --------------------------------------------------------------------------

HTTP = TASKS["call-http"]
ENDPOINT = ("with", "endpoint")
REFERENCES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # kind: (task using the name `it`, what `use` must hold, pointer of the name)
    "errors": (
        {"raise": {"error": "it"}},
        {"errors": {"it": {"type": "https://a.io/e", "status": 400}}},
        "/do/0/t/raise/error",
    ),
    "retries": (
        {"try": [{"a": TASKS["set"]}], "catch": {"retry": "it"}},
        {"retries": {"it": {"delay": "PT1S"}}},
        "/do/0/t/catch/retry",
    ),
    "timeouts": (
        {**TASKS["set"], "timeout": "it"},
        {"timeouts": {"it": {"after": "PT1M"}}},
        "/do/0/t/timeout",
    ),
    "authentications": (
        edit(HTTP, ENDPOINT, {"uri": "https://a.io", "authentication": {"use": "it"}}),
        {"authentications": {"it": {"bearer": {"token": "t"}}}},
        "/do/0/t/with/endpoint/authentication/use",
    ),
    "functions": (
        {"call": "it"},
        {"functions": {"it": HTTP}},
        "/do/0/t/call",
    ),
    "secrets": (
        edit(HTTP, ENDPOINT, {"uri": "https://a.io", "authentication": {"basic": {"use": "it"}}}),
        {"secrets": ["it"]},
        "/do/0/t/with/endpoint/authentication/basic/use",
    ),
}


@pytest.mark.parametrize("kind", list(REFERENCES))
def test_a_defined_name_is_accepted(kind: str) -> None:
    task, use, _ = REFERENCES[kind]
    load(with_task(task, use=use))


@pytest.mark.parametrize("kind", list(REFERENCES))
def test_an_undefined_name_is_refused(kind: str) -> None:
    task, use, pointer = REFERENCES[kind]
    defined = use[kind]
    other = {kind: ["other"] if isinstance(defined, list) else {"other": defined["it"]}}
    problem = only(validate(with_task(task, use=other)))
    assert problem.pointer == pointer
    assert "'it'" in problem.message and f"use.{kind}" in problem.message
    assert "other" in problem.message  # the names that are defined


def test_an_undefined_name_without_use_at_all() -> None:
    doc = {"document": DOCUMENT, "do": [{"t": {"raise": {"error": "it"}}}]}
    assert only(validate(doc)).message == "'it' is not defined in use.errors (none defined)"


def test_the_workflow_timeout_name_is_checked() -> None:
    problem = only(validate(workflow(timeout="slow")))
    assert (problem.pointer, problem.message) == (
        "/timeout", "'slow' is not defined in use.timeouts (none defined)"
    )


def test_a_function_from_a_catalog_needs_the_catalog() -> None:
    problem = only(validate(with_task({"call": "log:1.0.0@tools"})))
    assert problem.message == "catalog 'tools' of 'log:1.0.0@tools' is not defined in use.catalogs"
    catalogs = {"catalogs": {"tools": {"endpoint": "https://a.io/catalog"}}}
    load(with_task({"call": "log:1.0.0@tools"}, use=catalogs))


# --- expressions -------------------------------------------------------------------------------

EXPRESSIONS = yaml("""\
    do:
      - a:
          if: ${ .ready and }
          input:
            from: ${ .payload | }
          set:
            total: ${ .x + }
          output:
            as: ${ .y[ }
          export:
            as: ${ $context + + }
      - b:
          for:
            in: ${ .items | map( }
          while: ${ .go == }
          do:
            - c:
                switch:
                  - big: {when: '${ .x > }', then: exit}
      - d:
          try:
            - e:
                call: http
                with:
                  method: get
                  endpoint: https://example.com/pets
                  body: {name: '${ .name | ascii_downcase( }'}
          catch:
            when: ${ .status == }
    """)

# pointer -> line of the broken expression in EXPRESSIONS
BROKEN = {
    "/do/0/a/if": 4,
    "/do/0/a/input/from": 6,
    "/do/0/a/set/total": 8,
    "/do/0/a/output/as": 10,
    "/do/0/a/export/as": 12,
    "/do/1/b/for/in": 15,
    "/do/1/b/while": 16,
    "/do/1/b/do/0/c/switch/0/big/when": 20,
    "/do/2/d/try/0/e/with/body/name": 28,
    "/do/2/d/catch/when": 30,
}


def test_every_broken_expression_is_listed_with_its_pointer_and_line() -> None:
    problems = validate(EXPRESSIONS, "flow.yaml")
    assert {p.pointer: p.line for p in problems} == BROKEN
    assert all(p.message.startswith("invalid expression '${") for p in problems)
    assert [p.line for p in problems] == sorted(BROKEN.values())  # in document order


def test_an_expression_problem_says_what_jq_says() -> None:
    problem = only(validate(with_task({"set": {"x": "${ .x + }"}})))
    assert problem.message.startswith("invalid expression '${ .x + }': syntax error")


def test_valid_expressions_and_their_variables_compile() -> None:
    load(with_task({
        "set": {
            "a": "${ $context.total + $input.x }",
            "b": "${ [.items[] | select(.price > 10)] | length }",
            "c": "${ $workflow.id + $task.name + ($runtime.version | tostring) }",
            "d": "${ $secret.token }",
            "e": "plain text {with braces}",
        },
        "if": "${ .ready }",
        "output": {"as": {"sum": "${ .a + .b }"}},
    }))


def test_metadata_and_schema_documents_are_data_not_expressions() -> None:
    load(with_task({
        **TASKS["set"],
        "metadata": {"note": "${ not jq ("},
        "input": {"schema": {"document": {"description": "${ also not jq ("}}},
    }))


def test_all_problems_of_a_document_are_listed() -> None:
    problems = validate(yaml("""\
        do:
          - a:
              set: {x: '${ .x + }'}
              then: nowhere
          - b:
              raise: {error: undefinedError}
          - c:
              call: undefinedFunction
              timeout: undefinedTimeout
        """))
    assert [(p.line, p.pointer) for p in problems] == [
        (4, "/do/0/a/set/x"),
        (5, "/do/0/a/then"),
        (7, "/do/1/b/raise/error"),
        (9, "/do/2/c/call"),
        (10, "/do/2/c/timeout"),
    ]
