"""Hostile documents (issue 7, items 1, 6 and 8): nesting, size, aliases, comments.

Each is refused with one located problem, or read in linear time, and never
costs a ``RecursionError``, gigabytes or minutes. The documents are generated:
nothing large is committed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.dsl import InvalidWorkflowError, load, validate
from podium.limits import MAX_ALIAS_EXPANSION, MAX_DEPTH, MAX_DOCUMENT_BYTES
from tests.dsl.isolated import validate_isolated

HEAD = "document: {dsl: '1.0.3', namespace: test, name: limits, version: '0.1.0'}\n"
# Containers around a task's `set` value: the document, `do`, the item, the task, `set`.
AROUND_SET = 5
DEEP = f"nested deeper than {MAX_DEPTH} levels"


def one_task(task: str) -> str:
    """``task`` (lines indented 6) as the only task ``t`` of a document: line 4 is its
    first line."""
    return HEAD + "do:\n  - t:\n" + task


def flow_set(levels: int) -> str:
    """``set: {v: [[...1...]]}`` with ``levels`` brackets, on line 4."""
    return one_task(f"      set: {{v: {'[' * levels}1{']' * levels}}}\n")


def only(problems: list[object]) -> str:
    assert len(problems) == 1, [str(p) for p in problems]
    return str(problems[0])


def deep_pointer(levels: int) -> str:
    return "/do/0/t/set/v" + "/0" * levels


# -- nesting (item 1) ------------------------------------------------------------------------


def test_nesting_up_to_the_limit_loads() -> None:
    levels = MAX_DEPTH - AROUND_SET
    definition = load(flow_set(levels))
    value = definition.raw["do"][0]["t"]["set"]["v"]
    for _ in range(levels - 1):
        value = value[0]
    assert value == [1]


@pytest.mark.parametrize("levels", [MAX_DEPTH - AROUND_SET + 1, 250, 1000, 100_000])
def test_flow_nesting_past_the_limit_stops_at_the_first_container_past_it(levels: int) -> None:
    # The 96th bracket is the 101st container; the first is in column 16.
    inside = MAX_DEPTH - AROUND_SET
    assert only(validate(flow_set(levels), "flow.yaml")) == (
        f"flow.yaml:4:{16 + inside}: {deep_pointer(inside)}: {DEEP}"
    )


@pytest.mark.parametrize("levels", [1000, 100_000])
def test_block_sequences_nested_on_one_line_stop_at_the_limit(levels: int) -> None:
    # `- - - x`: block sequences, each inside the one before, on one line.
    text = one_task("      set:\n        v:\n          " + "- " * levels + "x\n")
    inside = MAX_DEPTH - AROUND_SET
    assert only(validate(text, "block.yaml")) == (
        f"block.yaml:6:{11 + 2 * inside}: {deep_pointer(inside)}: {DEEP}"
    )


def test_block_mappings_nested_past_the_limit() -> None:
    lines = [" " * (8 + 2 * level) + "a:" for level in range(300)]
    text = one_task("      set:\n" + "\n".join(lines) + "\n" + " " * 608 + "b: 1\n")
    problem = only(validate(text, "block.yaml"))
    # The value of the 96th `a` (line 100) is the 101st mapping: it starts with the
    # 97th `a`, on the next line.
    assert problem == (
        f"block.yaml:{5 + 96}:{9 + 2 * 96}: /do/0/t/set" + "/a" * 96 + f": {DEEP}"
    )


@pytest.mark.parametrize("levels", [250, 100_000])
def test_json_nesting_past_the_limit_names_line_column_and_pointer(levels: int) -> None:
    text = (
        '{"document": {"dsl": "1.0.3", "namespace": "t", "name": "deep", "version": "1.0.0"},\n'
        '"do": [{"t": {"set": {"v": ' + "[" * levels + "1" + "]" * levels + "}}}]}"
    )
    inside = MAX_DEPTH - AROUND_SET
    assert only(validate(text, "deep.json")) == (
        f"deep.json:2:{28 + inside}: {deep_pointer(inside)}: {DEEP}"
    )


def test_a_deep_document_costs_no_recursion_in_a_fresh_process(tmp_path: Path) -> None:
    outcome = validate_isolated(flow_set(100_000), tmp_path)
    assert outcome.problems == [f"doc.yaml:4:111: {deep_pointer(95)}: {DEEP}"]


def test_an_alias_that_nests_past_the_limit_is_refused_at_the_alias() -> None:
    half = 60
    text = one_task(
        f"      set:\n        a: &deep {'[' * half}1{']' * half}\n"
        f"        b: {'[' * half}*deep{']' * half}\n"
    )
    problem = only(validate(text, "alias.yaml"))
    assert problem == (
        f"alias.yaml:6:{12 + half}: /do/0/t/set/b" + "/0" * half
        + f": {DEEP} (through the alias *deep)"
    )


def test_a_deep_mapping_given_as_data_is_refused_without_recursing() -> None:
    value: list[object] = []
    for _ in range(100_000):
        value = [value]
    document = {"document": {"dsl": "1.0.3", "namespace": "t", "name": "d", "version": "1.0.0"},
                "do": [{"t": {"set": {"v": value}}}]}
    problem = only(validate(document))
    assert problem.endswith(f"{deep_pointer(MAX_DEPTH - AROUND_SET)}: {DEEP}")


# -- size (item 1) ---------------------------------------------------------------------------


def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    # Broken YAML too: the size is checked first, so the syntax is never looked at.
    text = one_task("      set: {v: '" + "y" * MAX_DOCUMENT_BYTES + "'\n")
    size = len(text.encode())
    assert only(validate(text, "big.yaml")) == (
        f"big.yaml:1:1: /: the document is larger ({size:,} bytes) than the limit of "
        f"{MAX_DOCUMENT_BYTES:,} bytes (1,024 KiB)"
    )


def test_a_document_at_the_size_limit_loads() -> None:
    text = one_task("      set: {v: ''}\n")
    padding = MAX_DOCUMENT_BYTES - len(text.encode()) - len("# \n")
    text += "# " + "x" * padding + "\n"
    assert len(text.encode()) == MAX_DOCUMENT_BYTES
    assert load(text).raw["do"][0]["t"]["set"] == {"v": ""}


def test_a_huge_file_is_not_read_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(64 * 1024**3)  # sparse: 64 GiB that take no disk
    assert only(validate(path)) == (
        f"{path}:1:1: /: the document is larger ({64 * 1024**3:,} bytes) than the limit of "
        f"{MAX_DOCUMENT_BYTES:,} bytes (1,024 KiB)"
    )


# -- aliases (item 6) ------------------------------------------------------------------------


def alias_bomb(levels: int, width: int) -> str:
    """The "billion laughs": each level a list of ``width`` aliases of the one before."""
    lines = ["        a0: &a0 [lol]"]
    for level in range(1, levels):
        refs = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"        a{level}: &a{level} [{refs}]")
    return one_task("      set:\n" + "\n".join(lines) + "\n")


def crossing(levels: int, width: int) -> tuple[int, int, str]:
    """Where the alias that takes the expansion past the limit is: line, column and
    pointer (each `*aN` of level N stands for the nodes of level N-1)."""
    sizes = [2]  # a0: the list and its item
    expanded = 0
    for level in range(1, levels):
        for index in range(width):
            expanded += sizes[level - 1]
            if expanded > MAX_ALIAS_EXPANSION:
                column = len(f"        a{level}: &a{level} [") + 1 + index * len(f"*a{level - 1}, ")
                return 5 + level, column, f"/do/0/t/set/a{level}/{index}"
        sizes.append(1 + width * sizes[level - 1])
    raise AssertionError("never crosses")  # pragma: no cover


@pytest.mark.parametrize(("levels", "width"), [(9, 9), (7, 10)], ids=["9x9", "10e6"])
def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_budget(
    levels: int, width: int, tmp_path: Path
) -> None:
    outcome = validate_isolated(alias_bomb(levels, width), tmp_path, memory=True)
    line, column, pointer = crossing(levels, width)
    assert outcome.problems == [
        f"doc.yaml:{line}:{column}: {pointer}: aliases expand to more than 10,000 nodes"
    ]
    # The document is 1 KB; refusing it costs what composing 10,000 nodes costs.
    assert outcome.peak < 20 * 1024**2


def test_aliases_within_the_budget_are_copies_and_located_at_their_anchor() -> None:
    text = HEAD + """\
x-endpoint: &endpoint
  method: get
  endpoint: nowhere
do:
  - first:
      call: http
      with: *endpoint
  - second:
      call: http
      with: *endpoint
"""
    problems = validate(text, "alias.yaml")
    # The bad endpoint is on line 4, whichever alias uses it.
    assert [str(p) for p in problems] == [
        f"alias.yaml:4:3: /do/{i}/{name}/with/endpoint: 'nowhere' is not an absolute URI "
        "(scheme://...) nor a runtime expression"
        for i, name in enumerate(["first", "second"])
    ]
    fixed = load(text.replace("nowhere", "https://example.com"))
    first, second = (fixed.raw["do"][i][name]["with"] for i, name in enumerate(["first", "second"]))
    assert first == second == {"method": "get", "endpoint": "https://example.com"}
    assert first is not second


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    text = one_task("      set: &loop\n        v: *loop\n")
    assert only(validate(text, "loop.yaml")) == (
        "loop.yaml:5:12: /do/0/t/set/v: the alias *loop is inside its own anchor "
        "(a cycle JSON cannot hold)"
    )


def test_an_undefined_alias_is_refused() -> None:
    assert only(validate(one_task("      set: {v: *nothing}\n"), "a.yaml")) == (
        "a.yaml:4:16: /do/0/t/set/v: undefined alias *nothing"
    )


def test_merge_keys_add_what_the_mapping_lacks() -> None:
    text = HEAD + """\
x-get: &get {method: get, endpoint: 'https://a.example'}
x-headers: &headers {headers: {accept: text/plain}, endpoint: 'https://b.example'}
do:
  - t:
      call: http
      with:
        <<: [*get, *headers]
        method: post
"""
    arguments = load(text).raw["do"][0]["t"]["with"]
    assert arguments == {
        "method": "post", "endpoint": "https://a.example", "headers": {"accept": "text/plain"}
    }


def test_a_merge_key_takes_only_mappings() -> None:
    text = one_task("      set:\n        <<: [1, 2]\n        v: 1\n")
    assert only(validate(text, "m.yaml")) == (
        "m.yaml:5:9: /do/0/t/set: a merge key (<<) takes a mapping or a list of mappings"
    )


# -- comments (item 8) -----------------------------------------------------------------------


COMMENTED = {
    # ruamel's round-trip scanner built a comment one character at a time; a 1 MB
    # comment line took 15 s to validate, 2 MB 64 s, 4 MB 221 s.
    "before-the-document": lambda n: HEAD + "# " + "x" * n + "\ndo:\n  - t:\n      set: {v: 1}\n",
    "only-a-comment": lambda n: "# " + "x" * n + "\n",
    "after-a-value": lambda n: HEAD + "do:\n  - t:\n      set: {v: 1}  # " + "x" * n + "\n",
    "last-line-unterminated": lambda n: HEAD + "do:\n  - t:\n      set: {v: 1}\n#" + "x" * n,
}


@pytest.mark.parametrize("build", COMMENTED.values(), ids=COMMENTED.keys())
def test_a_long_comment_costs_linear_time(build: object, tmp_path: Path) -> None:
    assert callable(build)
    small, large = 250_000, 1_000_000  # the larger one just under MAX_DOCUMENT_BYTES

    def cost(size: int) -> float:
        return validate_isolated(build(size), tmp_path, repeat=3).seconds

    # Four times the text: about four times the time when linear, sixteen when
    # quadratic (the old scanner showed 15 s for the large one).
    assert cost(large) / max(cost(small), 1e-3) < 9


def test_validation_time_of_json_documents_is_linear_too(tmp_path: Path) -> None:
    def text(tasks: int) -> str:
        do = [{f"t{i}": {"set": {"v": i, "w": [1, "two"]}}} for i in range(tasks)]
        header = {"dsl": "1.0.3", "namespace": "t", "name": "wide", "version": "1.0.0"}
        return json.dumps({"document": header, "do": do})

    def cost(tasks: int) -> float:
        return validate_isolated(text(tasks), tmp_path, json_name=True, repeat=3).seconds

    assert cost(2000) / max(cost(500), 1e-3) < 9


def test_checking_many_tasks_with_many_mistakes_costs_linear_time(tmp_path: Path) -> None:
    # The flow check compared every task list with every other, and each problem
    # listed every task of its list: 8,000 nested lists took seconds, and as many
    # mistakes printed 8,000 x 8,000 names.
    def text(tasks: int) -> str:
        do = [
            {f"t{i}": {"do": [{"x": {"set": {"v": 1}, "then": "nowhere"}}]}}
            for i in range(tasks)
        ] + [{f"u{i}": {"set": {"v": 1}, "bogus": 1}} for i in range(tasks)]
        header = {"dsl": "1.0.3", "namespace": "t", "name": "many", "version": "1.0.0"}
        return json.dumps({"document": header, "do": do})

    small = validate_isolated(text(2000), tmp_path, as_data=True, repeat=3)
    large = validate_isolated(text(8000), tmp_path, as_data=True, repeat=3)
    assert len(large.problems) == 2 * 8000
    assert max(len(line) for line in large.problems) < 300
    assert large.seconds / max(small.seconds, 1e-3) < 9


def test_every_refusal_raises_from_load_as_well() -> None:
    with pytest.raises(InvalidWorkflowError, match="nested deeper"):
        load(flow_set(1000))
