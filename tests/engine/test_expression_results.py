"""Results of expressions are data crossing a boundary (issue 7, items 1, 7 and
10): never nested beyond MAX_DEPTH, always strict JSON (non-finite numbers as
jq's CLI prints them), string repetition capped, and constant folding at compile
time bounded."""

from __future__ import annotations

import math
import time

import pytest

import podium
from podium.expressions import Evaluator
from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES
from tests.engine.harness import ERRORS, fault, run, workflow

EXPRESSION = ERRORS + "expression"
DBL_MAX = 1.7976931348623157e308


async def test_a_result_nested_too_deep_faults_its_task() -> None:
    # Issue 7 item 1: built by jq, then used by the next task (a traceback before).
    error = await fault("""
    do:
      - build:
          set:
            deep: '${ reduce range(3000) as $i (null; [.]) }'
      - use:
          set:
            again: '${ .deep }'
    """)
    assert error.type == EXPRESSION
    assert error.instance == "/do/0/build"
    assert f"nested deeper than {MAX_DEPTH} levels" in (error.detail or "")


async def test_nesting_grown_task_by_task_in_process_is_caught() -> None:
    # Contained expressions run in-process: their results are checked too.
    error = await fault("""
    do:
      - wrap:
          for:
            in: '${ [limit(30; repeat(1))] }'
          do:
            - deeper:
                set: '${ [[[[[.]]]]] }'
    """, {"start": True})
    assert error.type == EXPRESSION
    assert error.instance == "/do/0/wrap/do/0/deeper"
    assert f"nested deeper than {MAX_DEPTH} levels" in (error.detail or "")


async def test_non_finite_numbers_are_mapped_as_jq_prints_them() -> None:
    output = await run("""
    do:
      - t:
          set:
            inProcess: '${ [infinite, -infinite, nan] }'
            sandboxed: '${ reduce (infinite, -infinite, nan) as $x ([]; . + [$x]) }'
            big: '${ 1e1000 }'
    """)
    assert output == {
        "inProcess": [DBL_MAX, -DBL_MAX, None],
        "sandboxed": [DBL_MAX, -DBL_MAX, None],
        "big": DBL_MAX,
    }


async def test_non_finite_literals_in_templates_are_mapped() -> None:
    evaluator = Evaluator()
    value = {"inf": math.inf, "ninf": -math.inf, "nan": math.nan, "list": [math.inf, 1.5]}
    assert await evaluator.template(value, None, {}, "/do/0/t") == {
        "inf": DBL_MAX, "ninf": -DBL_MAX, "nan": None, "list": [DBL_MAX, 1.5],
    }


async def test_string_repetition_is_capped() -> None:
    error = await fault("""
    do:
      - t:
          set:
            v: '${ .s * 100000000 }'
    """, {"s": "xx"})
    assert error.type == EXPRESSION
    assert f"repeating a string beyond {MAX_PAYLOAD_BYTES} bytes" in (error.detail or "")


async def test_multiplication_keeps_jqs_semantics() -> None:
    output = await run("""
    do:
      - t:
          set:
            stream: '${ [(1,2) * (3,4)] }'
            dataStream: '${ [(.a, .b) * (.c, .d)] }'
            numbers: '${ .a * .c }'
            repeated: '${ .s * 3 }'
            commuted: '${ 3 * .s }'
            zero: '${ .s * 0 }'
            negative: '${ .s * -1 }'
            merged: '${ {x: {y: 1}} * .o }'
            literal: '${ "ab" * 2 }'
            assigned: '${ .a *= 10 | .a }'
    """, {"a": 1, "b": 2, "c": 3, "d": 4, "s": "ab", "o": {"x": {"z": 2}}})
    assert output == {
        "stream": [3, 6, 4, 8],
        "dataStream": [3, 6, 4, 8],
        "numbers": 3,
        "repeated": "ababab",
        "commuted": "ababab",
        "zero": "",
        "negative": None,
        "merged": {"x": {"y": 1, "z": 2}},
        "literal": "abab",
        "assigned": 10,
    }


def test_a_constant_folding_bomb_is_a_located_problem_at_load() -> None:
    # Issue 7 item 7: four of these cost 26 s and 7.7 GB in `validate`.
    document = workflow("""
    do:
      - a:
          set: {v: '${ "x" * 2000000000 | length }'}
      - b:
          set: {v: '${ "y" * 2000000000 | length }'}
      - c:
          set: {v: '${ "z" * 2000000000 | length }'}
      - d:
          set: {v: '${ "w" * 2000000000 | length }'}
    """)
    began = time.monotonic()
    problems = podium.validate(document)
    elapsed = time.monotonic() - began
    assert [(p.line, p.pointer) for p in problems] == [
        (9, "/do/0/a/set/v"), (11, "/do/1/b/set/v"), (13, "/do/2/c/set/v"),
        (15, "/do/3/d/set/v"),
    ]
    assert all("too expensive to compile" in p.message for p in problems)
    assert elapsed < 40  # the document's compile budget (20 s) plus slack


def test_a_folding_bomb_is_judged_once_per_source() -> None:
    document = workflow("""
    do:
      - a:
          set: {v: '${ "q" * 2000000000 | length }'}
    """)
    podium.validate(document)
    began = time.monotonic()
    problems = podium.validate(document)
    assert len(problems) == 1
    assert time.monotonic() - began < 1  # the verdict is cached


def test_cheap_folding_still_compiles() -> None:
    podium.load(workflow("""
    do:
      - a:
          set: {v: '${ "ab" * 3 }'}
    """))


@pytest.mark.parametrize("source", ['import \\"x\\" as $x; $x', 'include \\"x\\"; 1'])
def test_modules_are_refused_at_load(source: str) -> None:
    problems = podium.validate(workflow(f"""
    do:
      - a:
          set: {{v: "${{ {source} }}"}}
    """))
    assert len(problems) == 1
    assert "cannot load modules or files" in problems[0].message


@pytest.mark.parametrize("expression", ["${ $secrets.deep }",
                                        "${ reduce $secrets.deep as $x (0; 1) }"],
                         ids=["in-process", "sandboxed"])
async def test_data_nested_too_deep_faults_the_task_not_the_process(expression: str) -> None:
    # Inputs that deep are refused before an instance starts; a secret read from a
    # file is data no such check saw.
    deep: object = None
    for _ in range(5000):
        deep = [deep]
    error = await fault(f"""
    use:
      secrets: [deep]
    do:
      - t:
          set:
            v: '{expression}'
    """, {}, secrets={"deep": deep})
    assert error.type == EXPRESSION
    assert error.instance == "/do/0/t"
    assert f"nested deeper than {MAX_DEPTH} levels" in (error.detail or "")
