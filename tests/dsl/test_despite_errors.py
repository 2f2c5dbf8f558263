"""``validate`` lists every problem (issue 7, item 18): a part the model refuses (an
unknown task kind, a broken ``use`` entry, a bad header) no longer hides the
static checks of the rest (flow targets, ``use.*`` references, expressions)."""

from __future__ import annotations

from typing import Any

from podium.dsl import _salvage, load, validate
from tests.dsl.samples import DOCUMENT, TASKS, with_task

HEAD = "document: {dsl: '1.0.3', namespace: test, name: all, version: '0.1.0'}\n"


def lines(text: str) -> list[str]:
    return [str(p) for p in validate(text, "w.yaml")]


def test_an_unknown_task_kind_does_not_hide_the_other_problems() -> None:
    text = HEAD + """\
do:
  - a:
      foo: {}
  - b:
      wait: soon
  - c:
      set: {v: '${ .a | nope }'}
      then: nowhere
"""
    assert lines(text) == [
        "w.yaml:3:5: /do/0/a: not a task: unknown kind 'foo' (did you mean 'for'?)",
        "w.yaml:6:7: /do/1/b/wait: 'soon' is neither an ISO 8601 duration (e.g. PT30S) nor "
        "an expression",
        "w.yaml:8:13: /do/2/c/set/v: invalid expression '${ .a | nope }': nope/0 is not "
        "defined",
        "w.yaml:9:7: /do/2/c/then: flow directive 'nowhere' names no task of this list "
        "(tasks here: a, b, c; or continue, exit, end)",
    ]


def test_a_broken_task_keeps_its_name_as_a_flow_target() -> None:
    text = HEAD + """\
do:
  - start:
      set: {v: 1}
      then: broken
  - broken:
      sett: {v: 2}
"""
    assert lines(text) == [
        "w.yaml:6:5: /do/1/broken: not a task: unknown kind 'sett' (did you mean 'set'?)"
    ]


def test_problems_inside_nested_lists_and_beside_broken_items() -> None:
    text = HEAD + """\
do:
  - outer:
      do:
        - inner:
            wait: later
        - sibling:
            set: {v: '${ oops( }'}
  - two:
      set: {v: 1}
    tasks:
      set: {v: 2}
  - last:
      set: {v: 3}
      then: outer
      if: '${ .x | unknownfn }'
"""
    assert [line.split(": ", 2)[1] for line in lines(text)] == [
        "/do/0/outer/do/0/inner/wait", "/do/0/outer/do/1/sibling/set/v", "/do/1",
        "/do/2/last/if",
    ]


def test_a_broken_use_entry_still_answers_references_to_its_name() -> None:
    text = HEAD + """\
use:
  errors:
    bad: {type: 'https://example.com/bad'}
  functions:
    greet: {call: http, with: {method: get}}
do:
  - a:
      raise: {error: bad}
  - b:
      call: greet
  - c:
      raise: {error: missing}
"""
    assert lines(text) == [
        "w.yaml:4:5: /use/errors/bad/status: missing required property 'status'",
        "w.yaml:6:25: /use/functions/greet/with/endpoint: missing required property "
        "'endpoint'",
        "w.yaml:13:15: /do/2/c/raise/error: 'missing' is not defined in use.errors (bad)",
    ]


def test_a_broken_header_does_not_hide_the_tasks_problems() -> None:
    text = """\
document: {dsl: '1.0.3', namespace: Not_A_Name, name: all, version: one}
do:
  - a:
      set: {v: '${ nope }'}
"""
    assert [line.split(": ", 2)[1] for line in lines(text)] == [
        "/document/namespace", "/document/version", "/do/0/a/set/v",
    ]


def test_a_document_without_do_still_checks_its_use_block() -> None:
    text = HEAD + "use:\n  timeouts:\n    t: {after: PT1S}\ntimeout: other\n"
    assert [line.split(": ", 2)[1:] for line in lines(text)] == [
        ["/do", "missing required property 'do'"],
        ["/timeout", "'other' is not defined in use.timeouts (t)"],
    ]


def test_every_placeholder_validates_in_its_place() -> None:
    # If a placeholder did not validate, the checks behind it would be skipped.
    use: dict[str, Any] = {kind: {"x": value} for kind, value in _salvage._USE_ENTRIES.items()}
    use["extensions"] = [{"x": {"extend": "all"}}]
    document = {"document": _salvage._DOCUMENT, "use": use, "do": [{"t": _salvage._TASK}]}
    assert load(document).raw == document
    assert validate(with_task(TASKS["set"], document=DOCUMENT)) == []
