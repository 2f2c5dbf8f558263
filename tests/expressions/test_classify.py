"""The classifier: which programs may run in-process and which must run in the
sandbox. One case per construct: missing one would let a runaway program freeze
or crash a worker."""

from __future__ import annotations

import pytest

from podium.expressions.classify import MAX_INPROCESS_COMPILE_CHARS, classify

UNBOUNDED = {
    "until": "until(false; .)",
    "while": "[while(true; .)]",
    "repeat": "[limit(3; repeat(.))]",
    "range/1": "[range(10)]",
    "range/2": "[range(0; 10)]",
    "range in an index": ".[range(3)]",
    "recurse/0": "[recurse]",
    "recurse/1": "[recurse(.a)]",
    "recurse/2": "[recurse(.a; . != null)]",
    "recurse_down": "[recurse_down]",
    "..": "[..]",
    "def": "def f: 1 + f; f",
    "def without recursion": "def f: .; f",
    "reduce": "reduce .[] as $i (0; . + $i)",
    "foreach": "[foreach .[] as $i (0; . + $i)]",
    "walk": "walk(.)",
    "combinations/0": "[combinations]",
    "combinations/1": "[combinations(2)]",
    "input": "input",
    "inputs": "[inputs]",
    "transpose": "transpose",
    "indices": 'indices("a")',
    "index": 'index("a")',
    "rindex": 'rindex("a")',
    "_strindices": '_strindices("a")',
    "setpath": 'setpath(["a"]; 1)',
    "pick": "pick(.a)",
    "fromstream": "fromstream(tostream)",
    "tostream": "[tostream]",
    "paths/0": "[paths]",
    "paths/1": "[paths(type == \"number\")]",
    "leaf_paths": "[leaf_paths]",
    "fromjson": "fromjson",
    "test": 'test("a+")',
    "match": 'match("a+")',
    "capture": 'capture("(?<x>a)")',
    "scan": '[scan("a")]',
    "splits": '[splits("a")]',
    "sub": 'sub("a"; "b")',
    "gsub": 'gsub("a"; "b")',
    "split/2 (regex)": 'split("a+"; null)',
    "regex inside an interpolation": '"\\(test("a"))"',
    "assignment =": ".a = 1",
    "assignment |=": ".a |= 1",
    "assignment +=": ".a += 1",
    "assignment -=": ".a -= 1",
    "assignment *=": ".a *= 2",
    "assignment /=": ".a /= 2",
    "assignment %=": ".a %= 2",
    "assignment //=": ".a //= 2",
    "index assignment": ".[1000000000] = 1",
    "doubling chain": ".+. | .+. | .+. | .+. | .+. | .+. | .+.",
    "collecting chain": "[.,.] | [.,.] | [.,.] | [.,.] | [.,.] | [.,.] | [.,.]",
    "escaping chain": "tojson | tojson | tojson",
    "many repetitions": ".a * 2 | .b * 2 | .c * 2 | .d * 2",
}

CONTAINED = {
    "a path": ".a.b[0]",
    "an object": "{id: .id, name: .name, tags: [.tags[] | .name]}",
    "arithmetic": ".n + 1 - 2 * 3 / 4 % 5",
    "comparisons": ".a == 1 and .b != 2 and .c <= 3 and .d >= 4",
    "alternative": ".a // \"default\"",
    "split/1 (a plain string)": 'split(",")',
    "join": 'join(",")',
    "limit": "[limit(3; .[])]",
    "getpath (read-only)": 'getpath(["a", "b"])',
    "tojson once": "tojson",
    "a keyword as an object key": "{if: 1, reduce: 2, def: 3}",
    "a builtin name as an object key": "{test: 1, range: 2}",
    "shorthand key": "{range}",
    "a field named like a builtin": ".test.range.until",
    "a builtin name in a string": '"until(false; .) and range(9)"',
    "a builtin name in a comment": "# until(false; .)\n.a",
    "string interpolation": '"\\(.first) \\(.last)"',
    "format": '@base64 "\\(.a)"',
    "variables": ". as $x | $x.a",
    "$__loc__": "$__loc__",
    "multiplying data": ". * 2",
    "merging objects": ".a * .b",
    "select": "[.[] | select(.n > 1)]",
    "sort_by": "sort_by(.n)",
    "if": 'if .a then "yes" elif .b then "maybe" else "no" end',
    "try": "try .a catch null",
    "label": "label $out | .[] | if . > 2 then ., break $out else . end",
}


@pytest.mark.parametrize("source", UNBOUNDED.values(), ids=UNBOUNDED.keys())
def test_unbounded_constructs_go_to_the_sandbox(source: str) -> None:
    shape = classify(source)
    assert not shape.contained
    assert shape.reasons


@pytest.mark.parametrize("source", CONTAINED.values(), ids=CONTAINED.keys())
def test_contained_programs_run_in_process(source: str) -> None:
    shape = classify(source)
    assert shape.contained, shape.reasons


def test_the_reason_names_the_construct() -> None:
    assert any("until" in reason for reason in classify("until(false; .)").reasons)
    assert any("'split' with two arguments" in reason
               for reason in classify('split("a"; "g")').reasons)


@pytest.mark.parametrize(
    "source",
    ['"x" * 2000000000', '2000000000 * "x"', '("a" + "b") * 1e9', '"\\(1)" * 3'],
)
def test_a_string_and_a_multiplication_compile_in_a_child(source: str) -> None:
    # libjq folds constant operands while it compiles, before any definition of
    # `*` applies: only a child may compile these.
    shape = classify(source)
    assert shape.heavy_compile
    assert not shape.contained


def test_a_long_program_compiles_in_a_child() -> None:
    long = " + ".join(["1"] * (MAX_INPROCESS_COMPILE_CHARS // 3))
    assert len(long) > MAX_INPROCESS_COMPILE_CHARS
    assert classify(long).heavy_compile
    assert not classify(". * 2").heavy_compile


@pytest.mark.parametrize("source", ['import "x" as $x; $x', 'include "x"; 1'])
def test_modules_are_refused(source: str) -> None:
    refused = classify(source).refused
    assert refused is not None and "cannot load modules or files" in refused


def test_deep_nesting_does_not_recurse() -> None:
    source = "[" * 5000 + "." + "]" * 5000
    assert classify(source).heavy_compile  # long: compiled in a child, no RecursionError


QUADRATIC = {
    "two iterations combined": "[.a[] + .b[]]",
    "two iterations in an object": "{x: .a[], y: .b[]}",
    "two iterations in parentheses": "[(.a[]) * (.b[])]",
    "two alternatives in an object": "{a: (.x, .y), b: (.x, .y)}",
    "two iterations interpolated": '"\\(.a[])-\\(.b[])"',
    "two generating arguments": "[limit(.a[]; .b[])]",
    "a variable per item": "[.items[] | {item: ., ctx: $context}]",
    "a variable in map": "map(. + $extra)",
    "a variable in a select after an iteration": "[.items[] | select(.id == $id)]",
    "a variable after a label": "label $out | .[] | $secret",
    "array subtraction": ".a - .b",
    "contains": ".tags | contains(.wanted)",
    "inside": ".wanted | inside(.tags)",
    "join with a computed separator": 'join(.separator)',
    "join with an interpolated separator": 'join("\\(.s)")',
}

LINEAR = {
    "one iteration": "[.items[] | .id]",
    "iterations in sequence": ".[] | .[] | .name",
    "maps in sequence": "map(.a) | map(.b)",
    "a variable before an iteration": "$context.items[] | .id",
    "a variable bound before": ". as $all | $all.items",
    "subtracting a number": ".n - 1",
    "subtracting from a number": "10 - .n",
    "join with a literal": 'join(", ")',
    "alternatives collected": "[.a, .b, .c]",
    "one generator in an object": "{x: .a[], y: .b}",
    "a label": "label $out | .[] | if . > 1 then ., break $out else . end",
}


@pytest.mark.parametrize("source", QUADRATIC.values(), ids=QUADRATIC.keys())
def test_products_and_pairwise_work_go_to_the_sandbox(source: str) -> None:
    assert not classify(source).contained


@pytest.mark.parametrize("source", LINEAR.values(), ids=LINEAR.keys())
def test_linear_work_stays_in_process(source: str) -> None:
    shape = classify(source)
    assert shape.contained, shape.reasons
