"""A document is JSON data (issue 7, item 2): YAML that JSON cannot hold is refused
where it is written, and JSON text must be strict JSON.

Before, ``set: {v: !foo bar}`` validated and then crashed ``run`` with
``TypeError: Object of type TaggedScalar is not JSON serializable``; complex and
null keys became the strings ``"('a', 'b')"`` and ``"None"``; a control character
was reported at 1:1 over two lines; a trailing comma in JSON was accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from podium.dsl import InvalidWorkflowError, load, validate

HEAD = "document: {dsl: '1.0.3', namespace: test, name: data, version: '0.1.0'}\n"


def with_set(body: str) -> str:
    """A document whose task ``t`` sets ``body`` (lines indented 8), from line 5."""
    return HEAD + "do:\n  - t:\n      set:\n" + body


def lines(text: str, name: str = "d.yaml") -> list[str]:
    return [str(p) for p in validate(text, name)]


def set_value(text: str) -> Any:
    return load(text).raw["do"][0]["t"]["set"]


# -- tags ------------------------------------------------------------------------------------

REFUSED_TAGS = {
    "custom": ("!foo bar", "!foo"),
    "binary": ("!!binary aGVsbG8=", "!!binary"),
    "python": ("!!python/name:os.system ''", "!!python/name:os.system"),
    "python-object": ("!!python/object/apply:os.system [ls]", "!!python/object/apply:os.system"),
    "set": ("!!set {a, b}", "!!set"),
    "omap": ("!!omap [a: 1]", "!!omap"),
    "pairs": ("!!pairs [a: 1]", "!!pairs"),
    "custom-mapping": ("!thing {a: 1}", "!thing"),
    "str-on-a-mapping": ("!!str {a: 1}", "!!str"),
}


@pytest.mark.parametrize(("value", "tag"), REFUSED_TAGS.values(), ids=REFUSED_TAGS.keys())
def test_a_tag_that_is_not_json_is_refused_where_it_is(value: str, tag: str) -> None:
    text = with_set(f"        v: {value}\n")
    [problem] = validate(text, "tag.yaml")
    assert (problem.line, problem.column, problem.pointer) == (5, 12, "/do/0/t/set/v")
    assert problem.message.startswith(f"the tag {tag} is not JSON data")
    with pytest.raises(InvalidWorkflowError):
        load(text)


CORE_TAGS = {
    "str": ("!!str 12", "12"),
    "int": ("!!int '12'", 12),
    "float": ("!!float 1", 1.0),
    "bool": ("!!bool true", True),
    "null": ("!!null ''", None),
    "map": ("!!map {a: 1}", {"a": 1}),
    "seq": ("!!seq [1]", [1]),
    "non-specific": ("! 12", "12"),
    "timestamp": ("!!timestamp 2024-05-01", "2024-05-01"),
}


@pytest.mark.parametrize(("value", "data"), CORE_TAGS.values(), ids=CORE_TAGS.keys())
def test_core_schema_tags_give_json_values(value: str, data: Any) -> None:
    assert set_value(with_set(f"        v: {value}\n")) == {"v": data}


def test_every_refused_tag_is_listed() -> None:
    text = with_set("        a: !foo x\n        b: !!binary aGk=\n        c: [1, !bar y]\n")
    assert [p.pointer for p in validate(text)] == ["/do/0/t/set/a", "/do/0/t/set/b",
                                                 "/do/0/t/set/c/1"]


# -- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "what"),
    [("? [a, b]\n        ", "a list"), ("? {a: 1}\n        ", "a mapping")],
    ids=["list", "mapping"],
)
def test_a_complex_key_is_refused(key: str, what: str) -> None:
    assert lines(with_set(f"        {key}: 1\n        w: 2\n")) == [
        f"d.yaml:5:11: /do/0/t/set: a key must be a string, not {what}"
    ]


def test_an_alias_of_a_mapping_as_a_key_is_refused() -> None:
    text = with_set("        a: &m {x: 1}\n        *m : 2\n")
    assert lines(text) == [
        "d.yaml:6:9: /do/0/t/set: a key must be a string, not an alias of a mapping or list"
    ]


@pytest.mark.parametrize(
    ("key", "hint"),
    [("~", " (quote it to use the text '~')"), ("null", " (quote it to use the text 'null')"),
     ("? ''\n        ", ""), ("?\n        ", "")],
    ids=["tilde", "null", "empty-explicit", "empty"],
)
def test_a_null_key_is_refused(key: str, hint: str) -> None:
    problems = validate(with_set(f"        {key}: 1\n"))
    if key.startswith("? ''"):
        assert problems == []  # '' is a string: quoted, it is no null
        return
    [problem] = problems
    assert (problem.pointer, problem.message) == (
        "/do/0/t/set", f"a key must be a string, not null{hint}"
    )


def test_scalar_keys_are_their_text_as_written() -> None:
    text = with_set("        200: a\n        true: b\n        1.50: c\n        on: d\n"
                    "        2024-01-01: e\n")
    assert list(set_value(text)) == ["200", "true", "1.50", "on", "2024-01-01"]


def test_keys_that_write_the_same_text_are_duplicates() -> None:
    assert lines(with_set("        1: a\n        '1': b\n")) == [
        "d.yaml:6:9: /do/0/t/set/1: duplicate key '1' (first defined at line 5)"
    ]


# -- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN", "1e400"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    assert lines(with_set(f"        v: {value}\n")) == [
        f"d.yaml:5:12: /do/0/t/set/v: '{value}' is not a JSON number "
        "(JSON has no infinity or NaN)"
    ]


def test_an_integer_python_cannot_read_is_a_problem_not_a_crash() -> None:
    [problem] = validate(with_set(f"        v: {'9' * 5000}\n"))
    assert problem.pointer == "/do/0/t/set/v"
    assert "is not a valid !!int" in problem.message
    assert "4300 digits" in problem.message


def test_a_lone_surrogate_is_refused_and_a_pair_is_one_character() -> None:
    assert lines(with_set('        v: "\\ud800"\n')) == [
        "d.yaml:5:12: /do/0/t/set/v: not valid Unicode (a lone surrogate)"
    ]
    assert set_value(with_set('        v: "\\ud83d\\ude00"\n')) == {"v": "\U0001f600"}


def test_yaml_timestamps_stay_iso_strings() -> None:
    assert set_value(with_set("        at: 2024-05-01T10:00:00Z\n        on: 2024-05-01\n")) == {
        "at": "2024-05-01T10:00:00+00:00", "on": "2024-05-01"
    }


def test_a_second_document_is_refused() -> None:
    text = HEAD + "do:\n  - t: {set: {v: 1}}\n---\nmore: 1\n"
    assert lines(text) == [
        "d.yaml:4:1: /: a second document in the stream (a workflow file holds one; "
        "remove the '---')"
    ]


@pytest.mark.parametrize(
    ("char", "name"), [("\x07", "U+0007"), ("\x00", "U+0000"), ("\x7f", "U+007F"),
                       ("\x1b", "U+001B")],
    ids=["bell", "nul", "del", "escape"],
)
def test_a_control_character_is_reported_at_its_line_and_column(char: str, name: str) -> None:
    text = with_set(f'        v: "ok"\n        w: "bell{char}here"\n')
    [line] = lines(text)
    assert line == (
        f"d.yaml:6:17: /: invalid YAML: the control character {name} is not allowed in a "
        f"document (write it as an escape, \\x{ord(char):02x}, in a double-quoted string)"
    )
    assert "\n" not in line


# -- JSON text -------------------------------------------------------------------------------

JSON_HEAD = '{"document": {"dsl": "1.0.3", "namespace": "t", "name": "j", "version": "1.0.0"},\n'


@pytest.mark.parametrize(
    ("tail", "line", "column", "message"),
    [
        ('"do": [{"t": {"set": {"v": 1,}}}]}', 2, 29, "trailing comma (JSON allows none)"),
        ('"do": [{"t": {"set": {"v": [1, 2,]}}}]}', 2, 33, "trailing comma (JSON allows none)"),
        ('"do": [{"t": {"set": {"v": 1}}}],\n}', 2, 33, "trailing comma (JSON allows none)"),
        ('"do": [{"t": {"set": {"v": NaN}}}]}', 2, 28,
         "NaN is not a JSON number (JSON has no NaN or infinity)"),
        ('"do": [{"t": {"set": {"v": -Infinity}}}]}', 2, 28,
         "-Infinity is not a JSON number (JSON has no NaN or infinity)"),
        ("do: [{t: {set: {v: 1}}}]}", 2, 1, "Expecting property name enclosed in double quotes"),
        ('"do": [{"t": {"set": {"v": \'x\'}}}]}', 2, 28, "Expecting value"),
        ('"do": []} trailing', 2, 11, "Extra data"),
    ],
    ids=["object-comma", "array-comma", "comma-before-newline", "nan", "infinity",
         "unquoted-keys", "single-quotes", "extra-data"],
)
def test_json_text_must_be_strict_json(tail: str, line: int, column: int, message: str) -> None:
    assert lines(JSON_HEAD + tail, "flow.json") == [
        f"flow.json:{line}:{column}: /: invalid JSON: {message}"
    ]


def test_json_text_is_recognised_without_a_name() -> None:
    [problem] = validate(JSON_HEAD + '"do": [],}')
    assert problem.message == "invalid JSON: trailing comma (JSON allows none)"


def test_a_yaml_file_in_flow_style_stays_yaml() -> None:
    # YAML flow collections allow a trailing comma and plain keys; a .yaml file
    # starting with `{` is YAML.
    text = "{document: {dsl: '1.0.3', namespace: t, name: f, version: '1.0.0'},\n" \
           " do: [{t: {set: {v: 1,}}}],}\n"
    assert load(text, "flow.yaml").raw["do"] == [{"t": {"set": {"v": 1}}}]


def test_json_text_keeps_json_semantics_and_positions() -> None:
    document = {
        "document": {"dsl": "1.0.3", "namespace": "t", "name": "j", "version": "1.0.0"},
        "do": [{"t": {"set": {"smile": "\U0001f600", "bogus": None}, "then": 3}}],
    }
    text = json.dumps(document, indent=2)  # ensure_ascii: "\ud83d\ude00"
    [problem] = validate(text, "j.json")
    assert (problem.line, problem.pointer) == (
        text.splitlines().index('        "then": 3') + 1, "/do/0/t/then"
    )
    fixed = json.loads(text)
    fixed["do"][0]["t"].pop("then")
    assert load(json.dumps(fixed)).raw == fixed


def test_duplicate_keys_in_json_are_located() -> None:
    assert lines(JSON_HEAD + '"do": [{"t": {"set": {"v": 1, "v": 2}}}]}', "d.json") == [
        "d.json:2:31: /do/0/t/set/v: duplicate key 'v' (first defined at line 2)"
    ]


# -- data given as a mapping -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [(float("nan"), "nan is not a JSON number (JSON has no NaN or infinity)"),
     ({1: "a"}, "the key 1 is not a string"),
     ({"a", "b"}, "a set is not JSON data"),
     (b"bytes", "a bytes is not JSON data")],
    ids=["nan", "int-key", "set", "bytes"],
)
def test_a_mapping_source_must_hold_json_data(value: Any, message: str) -> None:
    document = {"document": {"dsl": "1.0.3", "namespace": "t", "name": "m", "version": "1.0.0"},
                "do": [{"t": {"set": {"v": value}}}]}
    [problem] = validate(document)
    assert problem.message == message
    assert problem.pointer in ("/do/0/t/set/v", "/do/0/t/set/v")


def test_json_that_yaml_cannot_read_keeps_its_json_data() -> None:
    # YAML limits a flow key to 1,024 characters; JSON does not.
    key = "k" * 2000
    document = {"document": {"dsl": "1.0.3", "namespace": "t", "name": "j", "version": "1.0.0"},
                "do": [{"t": {"set": {key: 1}}}]}
    assert load(json.dumps(document)).raw == document
