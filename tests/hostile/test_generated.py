"""Generated hostile documents: random workflows built from every flow task, with
hostile values, expressions and durations, then damaged at the text level (tags,
aliases, control characters, brackets, truncation). Each is validated and, when
valid, run, in a child process with limits (``HostileRunner``). Whatever the
document, podium must answer within bounds, with located problems or an outcome,
and ``validate`` must agree with what ``run`` does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.harness import HostileRunner

PROBLEM = re.compile(r"^generated\.yaml:\d+:\d+: /.*: .+")

EXAMPLES = settings(
    max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def runner() -> Iterator[HostileRunner]:
    found = HostileRunner(timeout=45)
    yield found
    found.close()


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)

JQ = [
    ".", ".a", ".a.b[0]", "$context", "$input", "$workflow.id", "$task.name", "$secrets",
    "now", "length", "keys", "[.[]?]", ". + 1", ".n * 3", '"x" * 3', '"\\(.)"', "tojson",
    "fromjson?", "nan", "infinite", "-infinite", "[limit(3; repeat(1))]", "range(5)",
    'test("a+")', "reduce range(50) as $i (0; . + $i)", "def f: 1; f", ".[1000000]",
    "error", 'error("boom")', "input", "$ENV", "env", "debug", "halt_error", "@base64",
    "[paths]", "splits(\"a\")", "ltrimstr(1)", "implode", "[.[] | tostring]", "..",
    "getpath([\"a\"])", 'setpath(["a"]; 1)', ".a = 1", "[combinations(2)]", "tostream",
    "until(. > 3; . + 1)", "if . then 1 else 2 end", "try error catch .", "$__loc__",
    "{(.a): 1}", ".[\"a\"]", "1 / 0", "[.[] | select(. > 1)]",
]
# Expressions that compile: a document with one that does not is refused whole, and
# would never run. Noise comes from the text damage below.
expressions = st.sampled_from(JQ).map(lambda text: "${ " + text + " }")

# Durations that load; those refused at load come from the text damage below.
durations = st.one_of(
    st.sampled_from(["PT0S", "PT0.01S", "PT0.05S", "PT1S", "P1Y", '${ "PT0.01S" }',
                     '${ "P99999999999D" }', "${ .missing }", "${ 5 }", "${ -1 }"]),
    st.fixed_dictionaries({"milliseconds": st.integers(0, 30)}, optional={
        "seconds": st.integers(0, 1)}),
)
names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
values = st.one_of(json_values, expressions)


def task_lists(tasks: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.tuples(names, tasks), min_size=1, max_size=3,
                    unique_by=lambda pair: pair[0]).map(
        lambda pairs: [{name: task} for name, task in pairs])


def with_common(kind: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    extras = st.fixed_dictionaries({}, optional={
        "if": expressions, "timeout": st.builds(lambda d: {"after": d}, durations),
        "then": st.sampled_from(["continue", "exit", "end"]),
        "input": st.builds(lambda e: {"from": e}, expressions),
        "output": st.builds(lambda e: {"as": e}, expressions),
        "export": st.builds(lambda e: {"as": e}, expressions),
    })
    return st.builds(lambda task, more: {**task, **more}, kind, extras)


def tasks(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    nested = task_lists(inner)
    kinds = st.one_of(
        st.builds(lambda v: {"set": v}, st.one_of(
            expressions, st.dictionaries(names, values, min_size=1, max_size=3))),
        st.builds(lambda w, t: {"switch": [{"c": {"when": w, "then": t}},
                                           {"d": {"then": "continue"}}]},
                  expressions, names),
        st.builds(lambda e, body: {"for": {"each": "item", "in": e}, "do": body},
                  expressions, nested),
        st.builds(lambda body, c: {"fork": {"branches": body, "compete": c}},
                  nested, st.booleans()),
        st.builds(lambda body, delay, count, handler: {
            "try": body,
            "catch": {"retry": {"delay": delay, "limit": {"attempt": {"count": count}}},
                      "do": handler}},
            nested, durations, st.integers(0, 2), nested),
        st.builds(lambda t, s, title: {"raise": {"error": {"type": t, "status": s,
                                                           "title": title}}},
                  st.sampled_from(["https://example.com/e", "not a uri", ""]),
                  st.integers(-1, 1000), st.text(max_size=12)),
        st.builds(lambda d: {"wait": d}, durations),
        st.builds(lambda body: {"do": body}, nested),
        st.builds(lambda e: {"emit": {"event": {"with": {"source": "https://x", "type": "t",
                                                         "data": e}}}}, values),
    )
    return with_common(kinds)


task_strategy = st.recursive(
    with_common(st.builds(lambda v: {"set": v},
                          st.dictionaries(names, values, min_size=1, max_size=2))),
    tasks, max_leaves=6,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    body = draw(task_lists(task_strategy))
    document: dict[str, Any] = {
        "document": {"dsl": "1.0.3", "namespace": "gen", "name": draw(names),
                     "version": "1.0.0"},
        "do": body,
    }
    if draw(st.booleans()):
        document["timeout"] = {"after": draw(durations)}
    text = json.dumps(document, indent=1)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        text = draw(damaged(text))
    return text


DAMAGE = [
    "!foo ", "!!binary ", "!!set ", "&a ", "*a", "? [a, b]\n: ", "~: ", "\x07", "\x1b[2J",
    "[" * 300, "{" * 300, ",", "}", "]", "\t", "99999999999999999999999", "NaN", ".inf",
    "<<: *a", "'", '"', "\\u0000", "${", "\ufeff", "${ ]", "${ def f: f; f }", "P99999999999999D",
    "-PT1S", "${ until(false; .) }", '"then": "nowhere", ', '"days": 100000000000, ',
]


@st.composite
def damaged(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    if draw(st.booleans()):
        return text[:at] + draw(st.sampled_from(DAMAGE)) + text[at:]
    return text[:at]


@EXAMPLES
@given(text=documents(), data=json_values)
def test_any_document_is_checked_or_run_within_bounds(
    runner: HostileRunner, text: str, data: Any
) -> None:
    problems = runner.ask({"op": "validate", "text": text})["problems"]
    for problem in problems:
        assert PROBLEM.match(problem), problem
    outcome = runner.ask({"op": "run", "text": text, "input": data})
    if "refused" in outcome:
        assert outcome["refused"] == problems, "validate and run disagree"
        return
    assert not problems, f"validate refused what run accepted: {problems}"
    assert outcome["status"] in ("completed", "faulted", "cancelled"), outcome
    if outcome["status"] == "faulted":
        assert set(outcome["error"]) == {"type", "status", "title", "detail", "instance"}
