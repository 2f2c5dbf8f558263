"""The graph of a workflow document (``podium.dsl.graph``) and its layout: every
example of the specification builds and lays out; the shapes of switch, fork,
for, try/catch and flow directives are the ones the DSL describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.dsl import load
from podium.dsl.graph import END, START, Edge, Graph, build_graph
from podium.server.dashboard.layout import layout
from tests.support.spec import SPEC_DIR

EXAMPLES = sorted((SPEC_DIR / "examples").glob("*.yaml"))


def graph_of(text: str) -> Graph:
    return build_graph(load(text).raw)


def edges(graph: Graph, kind: str | None = None) -> set[tuple[str, str, str | None]]:
    return {(e.source, e.target, e.label) for e in graph.edges if kind in (None, e.kind)}


def doc(body: str) -> str:
    return "document: {dsl: '1.0.3', namespace: t, name: g, version: '1.0.0'}\n" + body


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_spec_example_builds_and_lays_out(path: Path) -> None:
    graph = build_graph(load(path.read_text(), str(path)).raw)
    tasks = [n for n in graph.nodes if n.kind not in (START, END)]
    assert tasks, "every example has tasks"
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    for edge in graph.edges:
        assert edge.source in ids and edge.target in ids, edge
    drawn = layout(graph)
    assert {box.node.id for box in drawn.boxes} == set(ids)
    for box in drawn.boxes:
        assert box.x >= 0 and box.x + box.w <= drawn.width
        assert box.y >= 0 and box.y + box.h <= drawn.height


def test_a_sequence_runs_from_start_to_end() -> None:
    graph = graph_of(doc("do:\n  - a: {set: {x: 1}}\n  - b: {set: {y: 2}}\n"))
    assert edges(graph) == {
        (START, "/do/0/a", None), ("/do/0/a", "/do/1/b", None), ("/do/1/b", END, None)}
    assert [n.summary for n in graph.nodes if n.kind == "set"] == ["x", "y"]


def test_switch_cases_are_labelled_edges_to_their_targets() -> None:
    graph = graph_of((SPEC_DIR / "examples" / "switch-then-string.yaml").read_text())
    assert edges(graph, "case") == {
        ("/do/0/processOrder", "/do/1/processElectronicOrder",
         'case1: .orderType == "electronic"'),
        ("/do/0/processOrder", "/do/2/processPhysicalOrder", 'case2: .orderType == "physical"'),
        ("/do/0/processOrder", "/do/3/handleUnknownOrderType", "default"),
    }
    # `then: exit` at the top level leaves the workflow
    assert edges(graph, "exit") == {
        ("/do/1/processElectronicOrder", END, "exit"), ("/do/2/processPhysicalOrder", END, "exit")}


def test_a_switch_without_default_continues_when_nothing_matches() -> None:
    graph = graph_of(doc("do:\n  - pick:\n      switch:\n        - big: {when: .n > 1, then: b}\n"
                         "  - a: {set: {v: 1}}\n  - b: {set: {v: 1}}\n"))
    assert edges(graph, "case") == {("/do/0/pick", "/do/2/b", "big: .n > 1"),
                                    ("/do/0/pick", "/do/1/a", "no match")}


def test_then_directives() -> None:
    graph = graph_of(doc("""do:
  - outer:
      do:
        - a: {set: {v: 1}, then: c}
        - b: {set: {v: 1}, then: exit}
        - c: {set: {v: 1}, then: end}
  - after: {set: {v: 1}, then: outer}
"""))
    assert edges(graph, "then") == {("/do/0/outer/do/0/a", "/do/0/outer/do/2/c", "c"),
                                    ("/do/1/after", "/do/0/outer", "outer")}
    # exit leaves the enclosing list: to its owner; end leaves the workflow
    assert edges(graph, "exit") == {("/do/0/outer/do/1/b", "/do/0/outer", "exit")}
    assert edges(graph, "end") == {("/do/0/outer/do/2/c", END, "end")}
    assert [n.parent for n in graph.nodes if n.name in "abc"] == ["/do/0/outer"] * 3


def test_fork_branches() -> None:
    graph = graph_of((SPEC_DIR / "examples" / "fork.yaml").read_text())
    fork = "/do/0/raiseAlarm"
    branches = [f"{fork}/fork/branches/0/callNurse", f"{fork}/fork/branches/1/callDoctor"]
    assert edges(graph, "branch") == {(fork, b, "compete") for b in branches}
    assert [n.id for n in graph.children(fork)] == branches
    assert graph.node(branches[0]) is not None
    assert graph.node(branches[0]).summary == (  # type: ignore[union-attr]
        "http PUT https://fake-hospital.com/api/v3/alert/nurses")


def test_for_loops_around_its_body() -> None:
    graph = graph_of((SPEC_DIR / "examples" / "for.yaml").read_text())
    loop = "/do/0/checkup"
    body = f"{loop}/do/0/waitForCheckup"
    assert Edge(loop, loop, "loop", "each pet in .pets") in graph.edges
    assert Edge(loop, body, "enter") in graph.edges
    assert Edge(body, loop, "next") in graph.edges  # the body's end goes back to the for
    node = graph.node(loop)
    assert node is not None and node.summary == "each pet in .pets while .vet != null"


def test_try_has_a_try_scope_and_a_catch_scope() -> None:
    graph = graph_of((SPEC_DIR / "examples" / "try-catch-retry-inline.yaml").read_text()
                     .replace("count: 5", "count: 5\n        do:\n          - fallback: "
                              "{set: {pet: null}}"))
    task = "/do/0/tryGetPet"
    body, handler = f"{task}/try", f"{task}/catch"
    assert [(n.id, n.kind) for n in graph.children(task)] == [(body, "scope"),
                                                              (handler, "scope")]
    assert [n.id for n in graph.children(body)] == [f"{body}/0/getPet"]
    assert [n.id for n in graph.children(handler)] == [f"{handler}/do/0/fallback"]
    assert Edge(body, handler, "catch", "on error") in graph.edges
    assert Edge(body, body, "retry", "retry up to 5 times after 3s exponential") in graph.edges
    scope = graph.node(handler)
    assert scope is not None and "status=503" in scope.summary


def test_raise_passes_control_nowhere() -> None:
    graph = graph_of(doc("do:\n  - fail:\n      raise:\n"
                         "        error: {type: 'https://x/e', status: 400}\n"
                         "  - never: {set: {v: 1}}\n"))
    assert [e for e in graph.edges if e.source == "/do/0/fail"] == []


def test_conditions_and_listen_foreach_are_shown() -> None:
    graph = graph_of((SPEC_DIR / "examples" / "listen-to-any-forever-foreach.yaml").read_text())
    listen = "/do/0/listenToGossips"
    assert [n.id for n in graph.children(listen)] == [f"{listen}/foreach/do/0/postToChatApi"]
    assert Edge(listen, listen, "loop", "each event") in graph.edges
    conditional = graph_of((SPEC_DIR / "examples" / "conditional-task.yaml").read_text())
    assert any(n.condition for n in conditional.nodes)


def test_the_graph_as_json() -> None:
    shown = graph_of(doc("do:\n  - a: {wait: {seconds: 3}}\n")).to_json()
    assert shown["nodes"][1] == {"id": "/do/0/a", "name": "a", "kind": "wait", "parent": None,
                                 "summary": "3s", "condition": None}
    assert {"source": "/do/0/a", "target": END, "kind": "next", "label": None} in shown["edges"]


def test_jumps_whose_spans_overlap_get_lanes_of_their_own() -> None:
    graph = graph_of(doc("""do:
  - a: {set: {v: 1}, then: c}
  - b: {set: {v: 1}, then: d}
  - c: {set: {v: 1}, then: a}
  - d: {set: {v: 1}, then: d}
"""))
    drawn = layout(graph)
    jumps = [line for line in drawn.lines if line.kind == "then"]
    assert len(jumps) == 4  # a→c, b→d, c→a (back), d→d (to itself)
    lanes = [float(line.d.split(" H")[1].split(" ")[0]) for line in jumps]
    # a→c, b→d and c→a overlap each other: three lanes; d→d fits in one of them
    assert len(set(lanes)) == 3
    boxes = {box.node.id: box for box in drawn.boxes}
    right = max(box.x + box.w for box in drawn.boxes if box.node.kind == "set")
    assert all(lane > right for lane in lanes)  # lanes run right of the tasks
    assert boxes["/do/3/d"].tag == "then d"
