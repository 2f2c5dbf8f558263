"""Strict JSON, as text and as data: what ``--input``, JSON documents and
``Runtime.start`` accept (README "Limits")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium.dsl.strict_json import (
    JSONDataError,
    JSONTextError,
    data_problem,
    loads,
    payload_problem,
)
from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5, -0, 1e3, true, null, "\\u00e9\\ud83d\\ude00"]}', "[]", '"x"', "3",
     "[" * MAX_DEPTH + "]" * MAX_DEPTH, '{"s": "[[[[ NaN ]]] \\" {"}'],
    ids=["values", "empty", "string", "number", "at-the-depth-limit", "brackets-in-strings"],
)
def test_strict_json_reads_what_json_reads(text: str) -> None:
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ('{"a": NaN}', "NaN is not a JSON number (JSON has no NaN or infinity)", 1, 7),
        ("[1,\n Infinity]", "Infinity is not a JSON number (JSON has no NaN or infinity)", 2, 2),
        ("[-Infinity]", "-Infinity is not a JSON number (JSON has no NaN or infinity)", 1, 2),
        ('{"a": 1,}', "trailing comma (JSON allows none)", 1, 8),
        ("[1,\n]", "trailing comma (JSON allows none)", 1, 3),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels",
         1, MAX_DEPTH + 1),
        ("[" * 100_000 + "]" * 100_000, f"nested deeper than {MAX_DEPTH} levels", 1,
         MAX_DEPTH + 1),
        ('{"a": 1', "Expecting ',' delimiter", 1, 8),
        ("", "Expecting value", 1, 1),
        ('["unterminated', "Unterminated string starting at", 1, 2),
        ("9" * 5000, "not JSON Podium can read: Exceeds the limit (4300 digits)", 1, 1),
    ],
    ids=["nan", "infinity", "minus-infinity", "object-comma", "array-comma", "one-too-deep",
         "far-too-deep", "truncated", "empty", "unterminated-string", "huge-integer"],
)
def test_what_json_loads_forgives_is_refused_with_its_position(
    text: str, message: str, line: int, column: int
) -> None:
    with pytest.raises(JSONTextError) as caught:
        loads(text)
    assert caught.value.message.startswith(message)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.too_deep == message.startswith("nested")


def test_a_lone_surrogate_is_data_json_cannot_carry() -> None:
    with pytest.raises(JSONDataError) as caught:
        loads('{"a": ["ok", "\\udc00"]}')
    assert str(caught.value) == "/a/1: not valid Unicode (a lone surrogate)"


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (deep(MAX_DEPTH), None),
        (deep(MAX_DEPTH + 1), ((0,) * MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels")),
        (deep(100_000), ((0,) * MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels")),
        ({"a": (1, 2)}, None),
        ({"a": [1, {"b": float("inf")}]}, (("a", 1, "b"),
                                           "inf is not a JSON number (JSON has no NaN or "
                                           "infinity)")),
        ({"a": {2: 1}}, (("a",), "the key 2 is not a string")),
        ({"\ud800": 1}, ((), "the key '\\ud800' is not valid Unicode (a lone surrogate)")),
        ({"a": object()}, (("a",), "a object is not JSON data")),
    ],
    ids=["at-the-limit", "past-the-limit", "far-past", "tuple", "infinity", "int-key",
         "surrogate-key", "object"],
)
def test_data_problem_names_the_first_offence_and_its_path(
    value: Any, problem: tuple[tuple[str | int, ...], str] | None
) -> None:
    assert data_problem(value) == problem


def test_a_cycle_counts_as_too_deep() -> None:
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    problem = data_problem(cycle)
    assert problem is not None and problem[1] == f"nested deeper than {MAX_DEPTH} levels"


def test_payload_problem_adds_the_size_limit() -> None:
    assert payload_problem({"v": "x" * 1000}) is None
    big = {"v": "é" * (MAX_PAYLOAD_BYTES // 2)}  # two bytes each in UTF-8
    size = len(json.dumps(big, ensure_ascii=False, separators=(",", ":")).encode())
    assert payload_problem(big) == (
        f"{size:,} bytes of JSON, more than the limit of {MAX_PAYLOAD_BYTES:,}"
    )
    assert payload_problem({"v": float("nan")}) == (
        "/v: nan is not a JSON number (JSON has no NaN or infinity)"
    )
