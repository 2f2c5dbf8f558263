"""The official JSON Schema is the oracle: podium accepts what it accepts and
refuses what it refuses.

Static checks (flow targets, ``use.*`` names, expression syntax) go beyond the
schema; the documents here are built not to trip them (tests/dsl/test_checks.py
covers those).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from ruamel.yaml import YAML

from podium.dsl import load, validate
from podium.dsl.model import Workflow
from tests.dsl.samples import DOCUMENT, REQUIRED, TASKS, edit, with_task, workflow
from tests.support.spec import SPEC_DIR

EXAMPLES = sorted((SPEC_DIR / "examples").glob("*.yaml"))
INVALID = sorted((SPEC_DIR / "invalid").glob("*.yaml"))


def _read(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


SCHEMA = _read(SPEC_DIR / "schema" / "workflow.yaml")
# Formats stay annotations (jsonschema's default): `uri-template` and friends
# are not checked by podium either. See KNOWN_GAPS for what that costs.
ORACLE = Draft202012Validator(SCHEMA)


def schema_accepts(doc: Any) -> bool:
    return bool(ORACLE.is_valid(doc))


def podium_accepts(doc: dict[str, Any]) -> bool:
    return not validate(doc)


def model_accepts(doc: Any) -> bool:
    try:
        Workflow.model_validate(doc)
    except ValidationError:
        return False
    return True


def test_the_oracle_is_a_valid_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_the_spec_ships_its_examples() -> None:
    assert len(EXAMPLES) == 66
    assert len(INVALID) == 3


# --- the specification's own documents --------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid_for_podium_and_the_schema(path: Path) -> None:
    assert schema_accepts(_read(path))
    definition = load(path)
    assert definition.raw == _read(path)


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_document_is_refused_where_it_is_wrong(path: Path) -> None:
    problems = validate(path)
    assert problems
    assert all(p.file == str(path) for p in problems)
    assert any(p.line > 1 for p in problems), [str(p) for p in problems]


def test_invalid_documents_say_what_and_where() -> None:
    where = {p.name: [(x.line, x.pointer, x.message) for x in validate(p)] for p in INVALID}
    assert where == {
        "extra-property-in-call.yaml": [(12, "/do/0/getPet/foo", "unknown property 'foo'")],
        "listen-any-until-any-until.yaml": [
            (7, "/do", "duplicate key 'do' (first defined at line 6)")
        ],
        "two-tasks-in-one-item.yaml": [(
            7,
            "/do/0",
            "a list item holds exactly one named task, found 2 ('getPet', 'setMessage'): "
            "start each task with its own '-'",
        )],
    }


def test_nested_until_is_refused_even_without_the_duplicate_key() -> None:
    # The spec's invalid/listen-any-until-any-until.yaml is refused for its
    # duplicate `do:` before the nested `until` is looked at; this is its intent.
    text = (SPEC_DIR / "invalid" / "listen-any-until-any-until.yaml").read_text(encoding="utf-8")
    text = text.replace("do:\ndo:\n", "do:\n")
    doc = YAML(typ="safe", pure=True).load(text)
    assert not schema_accepts(doc)
    [problem] = validate(text)
    assert problem.pointer == "/do/0/callDoctor/listen/to/until/until"
    assert problem.line == 13


# --- mutated documents: both accept or both refuse ----------------------------------------------


def _cases() -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(id, document, valid?) triples."""
    for kind, body in TASKS.items():
        yield f"{kind}: valid", with_task(body), True
        yield f"{kind}: unknown property", with_task({**body, "bogus": 1}), False
        yield f"{kind}: missing {REQUIRED[kind][-1]}", with_task(edit(body, REQUIRED[kind])), False
        yield f"{kind}: then null", with_task({**body, "then": None}), False

    http, grpc, mcp = TASKS["call-http"], TASKS["call-grpc"], TASKS["call-mcp"]
    run_container = TASKS["run-container"]
    listen_any = {"any": [{"with": {"type": "com.example.done"}}]}
    one_event = {"one": {"with": {"type": "com.example.done"}}}

    def task(name: str, body: dict[str, Any], valid: bool) -> tuple[str, dict[str, Any], bool]:
        return name, with_task(body), valid

    # call: http
    yield task("http: unknown property in with", edit(http, ("with", "bogus"), 1), False)
    yield task("http: header value not a string", edit(http, ("with", "headers"), {"a": 1}), False)
    yield task("http: headers as expression", edit(http, ("with", "headers"), "${ .h }"), True)
    yield task("http: headers as plain string", edit(http, ("with", "headers"), "a=b"), False)
    yield task("http: query value not a string", edit(http, ("with", "query"), {"n": 2}), False)
    yield task("http: output not in enum", edit(http, ("with", "output"), "body"), False)
    yield task("http: redirect as string", edit(http, ("with", "redirect"), "true"), False)
    yield task("http: method as number", edit(http, ("with", "method"), 1), False)
    yield task("http: body may be null", edit(http, ("with", "body"), None), True)
    yield task("http: endpoint without scheme", edit(http, ("with", "endpoint"), "a.io/x"), False)
    yield task("http: endpoint as expression", edit(http, ("with", "endpoint"), "${ .u }"), True)
    yield task(
        "http: endpoint expression on two lines",  # the schema's `.` stops at a line break
        edit(http, ("with", "endpoint"), "${ .base\n+ .path }"),
        False,
    )
    yield task(
        "http: endpoint object", edit(http, ("with", "endpoint"), {"uri": "https://a.io"}), True
    )
    yield task(
        "http: endpoint object without uri", edit(http, ("with", "endpoint"), {"url": "x"}), False
    )
    yield task("call: not a string", {"call": 5}, False)
    yield task("call: reserved name with function arguments", {"call": "http"}, False)

    # call: grpc, mcp, a2a, asyncapi
    yield task("grpc: port out of range", edit(grpc, ("with", "service", "port"), 70000), False)
    yield task("grpc: port as string", edit(grpc, ("with", "service", "port"), "80"), False)
    yield task("grpc: host with a slash", edit(grpc, ("with", "service", "host"), "a/b"), False)
    yield task("mcp: with allows more", edit(mcp, ("with", "extra"), {"any": 1}), True)
    yield task(
        "mcp: two transports",
        edit(mcp, ("with", "transport", "http"), {"endpoint": "https://example.com/mcp"}),
        False,
    )
    yield task(
        "mcp: client version is untyped",
        edit(mcp, ("with", "client"), {"name": "podium", "version": 1}),
        True,
    )
    yield task(
        "mcp: client description must be a string",
        edit(mcp, ("with", "client"), {"name": "podium", "version": "1", "description": 2}),
        False,
    )
    yield task("a2a: empty parameters", edit(TASKS["call-a2a"], ("with", "parameters"), {}), False)
    yield task(
        "asyncapi: channel and operation",
        edit(TASKS["call-asyncapi"], ("with", "channel"), "greetings"),
        False,
    )

    # durations
    for duration, valid in [
        ("PT", False), ("P", False), ("P1DT", False), ("PT1.S", False), ("1h", False),
        ("PT-1S", False), ("P1W", True), ("PT0.5S", True), ("P1Y2M3DT4H5M6S", True),
        ("${ .delay }", True), ({"seconds": 3}, True), ({"seconds": 3.0}, True),
        ({"seconds": 1.5}, False), ({"seconds": "3"}, False), ({"weeks": 1}, False),
        ({}, False), ({"seconds": None}, False), (30, False),
    ]:
        yield task(f"wait {duration!r}", {"wait": duration}, valid)
    yield task("timeout as object", {"set": {"x": 1}, "timeout": {"after": "PT1M"}}, True)
    yield task("timeout as number", {"set": {"x": 1}, "timeout": 5}, False)
    yield task("timeout without after", {"set": {"x": 1}, "timeout": {}}, False)

    # document
    for field, value, valid in [
        ("dsl", "1.0", False), ("dsl", "v1.0.0", False), ("version", "01.0.0", False),
        ("version", "1.0.0-", False), ("version", "1.0.0-alpha.1+build.5", True),
        ("version", 1, False), ("name", "Bad_Name", False), ("name", "-x", False),
        ("name", "a" * 64, False), ("name", "a" * 63, True), ("namespace", "my-team-2", True),
        ("title", None, False), ("bogus", 1, False), ("tags", {"team": "a"}, True),
    ]:
        yield f"document.{field} = {value!r}", workflow(document={**DOCUMENT, field: value}), valid
    yield "document without name", workflow(document=edit(DOCUMENT, ("name",))), False
    yield "no do", edit(workflow(), ("do",)), False
    yield "empty do", workflow(), True
    yield "extra top-level property", workflow(**{"x-owner": "team-a"}), True

    # task lists
    two = {"document": DOCUMENT, "do": [{"a": TASKS["set"], "b": TASKS["wait"]}]}
    yield "two tasks in one item", two, False
    yield "empty task list item", {"document": DOCUMENT, "do": [{}]}, False
    yield "task is null", {"document": DOCUMENT, "do": [{"a": None}]}, False
    yield "task without a kind", with_task({"then": "end"}), False
    yield "do is a mapping", {"document": DOCUMENT, "do": {"a": TASKS["set"]}}, False

    # set, switch
    yield task("set: empty", {"set": {}}, False)
    yield task("set: expression", {"set": "${ .x }"}, True)
    yield task("set: number", {"set": 3}, False)
    yield task("switch: empty", {"switch": []}, False)
    yield task("switch: case without then", {"switch": [{"big": {"when": "${ true }"}}]}, False)
    yield task(
        "switch: two cases in one item",
        {"switch": [{"a": {"then": "end"}, "b": {"then": "exit"}}]},
        False,
    )
    yield task(
        "switch: case with unknown property", {"switch": [{"a": {"then": "end", "if": "x"}}]}, False
    )

    # listen and event consumption
    yield task("listen: any until expression", {"listen": {"to": {
        **listen_any, "until": "${ true }"}}}, True)
    yield task("listen: any until events", {"listen": {"to": {**listen_any, "until": one_event}}},
               True)
    yield task("listen: nested until", {"listen": {"to": {
        **listen_any, "until": {**listen_any, "until": "${ true }"}}}}, False)
    yield task("listen: all with until", {"listen": {"to": {
        "all": [], "until": "${ true }"}}}, False)
    yield task("listen: one and any", {"listen": {"to": {**one_event, **listen_any}}}, False)
    yield task("listen: empty filter", {"listen": {"to": {"one": {"with": {}}}}}, False)
    yield task("listen: read not in enum", {"listen": {"to": one_event, "read": "all"}}, False)
    yield "schedule on events", workflow(schedule={"on": one_event}), True
    yield "schedule every PT", workflow(schedule={"every": "PT"}), False
    yield "schedule cron", workflow(schedule={"cron": "0 0 * * *"}), True

    # emit
    emit = TASKS["emit"]
    yield task("emit: source not a URI", edit(emit, ("emit", "event", "with", "source"), "/x"),
               False)
    yield task("emit: no type", edit(emit, ("emit", "event", "with", "type")), False)
    yield task("emit: extra event attribute", edit(emit, ("emit", "event", "with", "ext"), 1), True)
    yield task("emit: data may be null", edit(emit, ("emit", "event", "with", "data"), None), True)
    yield task(
        "emit: dataschema not a URI",
        edit(emit, ("emit", "event", "with", "dataschema"), "schema.json"),
        False,
    )

    # raise and errors
    raise_ = TASKS["raise"]
    yield task("raise: status as string", edit(raise_, ("raise", "error", "status"), "400"), False)
    yield task("raise: integral float status", edit(raise_, ("raise", "error", "status"), 400.0),
               True)
    yield task("raise: boolean status", edit(raise_, ("raise", "error", "status"), True), False)
    yield task("raise: type not a URI", edit(raise_, ("raise", "error", "type"), "bad"), False)
    yield task("raise: error as number", {"raise": {"error": 5}}, False)

    # run
    yield task("run: two processes", edit(run_container, ("run", "shell"), {"command": "ls"}),
               False)
    yield task("run: return not in enum", edit(run_container, ("run", "return"), "both"), False)
    yield task("run: await as string", edit(run_container, ("run", "await"), "no"), False)
    for lifetime, valid in [
        ({}, False), ({"cleanup": "always"}, True), ({"cleanup": "eventually"}, False),
        ({"cleanup": "eventually", "after": "PT1M"}, True),
        ({"cleanup": "never", "after": "PT1M"}, False),
    ]:
        yield task(f"run: lifetime {lifetime}",
                   edit(run_container, ("run", "container", "lifetime"), lifetime), valid)
    yield task(
        "run: pull policy", edit(run_container, ("run", "container", "pullPolicy"), "always"), True
    )
    yield task(
        "run: script with code and source",
        edit(TASKS["run-script"], ("run", "script", "source"), {"endpoint": "https://a.io/s.py"}),
        False,
    )
    yield task(
        "run: subflow without version",  # required by the schema despite its default
        edit(TASKS["run-workflow"], ("run", "workflow", "version")),
        False,
    )

    # try / catch / retry
    try_ = TASKS["try"]
    yield task("try: inline retry", edit(try_, ("catch", "retry"), {
        "delay": {"seconds": 1}, "backoff": {"exponential": {}}, "limit": {"attempt": {"count": 3}},
    }), True)
    yield task("try: empty backoff", edit(try_, ("catch", "retry"), {"backoff": {}}), False)
    yield task("try: two backoffs", edit(try_, ("catch", "retry"), {
        "backoff": {"constant": {}, "linear": {}}}), False)
    yield task("try: jitter without to", edit(try_, ("catch", "retry"), {
        "jitter": {"from": "PT1S"}}), False)
    yield task("try: empty error filter", edit(try_, ("catch", "errors", "with"), {}), False)
    yield task("try: error filter allows more", edit(try_, ("catch", "errors", "with", "x"), 1),
               True)
    yield task("try: catch unknown property", edit(try_, ("catch", "bogus"), 1), False)

    # data flow
    yield task("input.from as number", {"set": {"x": 1}, "input": {"from": 3}}, False)
    yield task("output.as as object", {"set": {"x": 1}, "output": {"as": {"y": "${ .x }"}}}, True)
    yield task("export without as", {"set": {"x": 1}, "export": {"bogus": 1}}, False)
    schema_doc = {"document": {"type": "object"}}
    yield task("input schema", {"set": {"x": 1}, "input": {"schema": schema_doc}}, True)
    yield task("input schema document null", {"set": {"x": 1}, "input": {
        "schema": {"document": None}}}, True)
    yield task("input schema with only a format", {"set": {"x": 1}, "input": {
        "schema": {"format": "json"}}}, False)
    yield task("input schema document and resource", {"set": {"x": 1}, "input": {"schema": {
        **schema_doc, "resource": {"endpoint": "https://a.io/s.json"}}}}, False)
    yield task("if as number", {"set": {"x": 1}, "if": 1}, False)
    yield task("metadata", {"set": {"x": 1}, "metadata": {"owner": None}}, True)

    # authentication
    def auth(policy: Any, **top: Any) -> dict[str, Any]:
        endpoint = {"uri": "https://example.com", "authentication": policy}
        return with_task(edit(http, ("with", "endpoint"), endpoint), **top)

    secrets = {"use": {"secrets": ["creds"]}}
    yield "auth: basic", auth({"basic": {"username": "u", "password": "p"}}), True
    yield "auth: basic without password", auth({"basic": {"username": "u"}}), False
    yield "auth: basic from a secret", auth({"basic": {"use": "creds"}}, **secrets), True
    yield "auth: basic secret and password", auth(
        {"basic": {"use": "creds", "password": "p"}}, **secrets), False
    yield "auth: basic and bearer", auth(
        {"basic": {"use": "creds"}, "bearer": {"token": "t"}}, **secrets), False
    yield "auth: bearer empty secret name", auth({"bearer": {"use": ""}}), False
    yield "auth: referenceable with extra", auth({"bearer": {"token": "t"}, "x": 1}), False
    yield "auth: oauth2 empty", auth({"oauth2": {}}), True
    yield "auth: oauth2 authority URI", auth({"oauth2": {"authority": "https://idp.io"}}), True
    yield "auth: oauth2 authority expression", auth({"oauth2": {"authority": "${ .idp }"}}), False
    yield "auth: oauth2 grant not in enum", auth({"oauth2": {"grant": "implicit"}}), False
    yield "auth: oauth2 endpoints", auth({"oauth2": {"endpoints": {"token": "/t"}}}), True
    yield "auth: oidc endpoints", auth({"oidc": {"endpoints": {"token": "/t"}}}), False
    yield "auth: oauth2 client unknown property", auth({"oauth2": {"client": {"key": "k"}}}), False
    yield "use.authentications entry with extra", workflow(use={"authentications": {
        "a": {"bearer": {"token": "t"}, "x": 1}}}), True
    yield "use.authentications entry with two policies", workflow(use={"authentications": {
        "a": {"bearer": {"token": "t"}, "basic": {"username": "u", "password": "p"}}}}), False

    # use
    extension = {"extend": "call", "before": [{"log": TASKS["set"]}]}
    yield "use.extensions", workflow(use={"extensions": [{"log": extension}]}), True
    yield "use.extensions empty item", workflow(use={"extensions": [{}]}), False
    yield "use.extensions two in one item", workflow(use={"extensions": [
        {"a": extension, "b": extension}]}), False
    yield "use.extensions bad target", workflow(use={"extensions": [
        {"a": {**extension, "extend": "do"}}]}), False
    yield "use.secrets not strings", workflow(use={"secrets": [1]}), False
    yield "use unknown property", workflow(use={"bogus": {}}), False
    yield "use.catalogs without endpoint", workflow(use={"catalogs": {"c": {}}}), False


CASES = list(_cases())

# Where the schema, read without format assertions, refuses what it means to
# allow; podium accepts. Each entry says why; a gap that closes fails
# test_known_gaps_are_real, so the entry cannot outlive it.
KNOWN_GAPS = {
    "event time as expression": (
        "`time` is oneOf [string with format date-time, runtimeExpression]; without format "
        "assertion an expression matches both branches, so the schema refuses it",
        with_task(edit(TASKS["emit"], ("emit", "event", "with", "time"), "${ now }")),
    ),
    "emit without source": (
        "the schema requires `source` in `emit.event.with`; Podium supplies a URI naming the"
        " instance (the events issue: the runtime fills it in, like `id`)",
        with_task(edit(TASKS["emit"], ("emit", "event", "with", "source"))),
    ),
    "schedule.on read": (
        "the schema's `schedule.on` is a consumption strategy without `read`; Podium reads"
        " the starting events into the input as `listen` does (the events issue)",
        workflow(schedule={"on": {"one": {"with": {"type": "t"}}, "read": "data"}}),
    ),
    "error instance as expression": (
        "`instance` is oneOf [string with format json-pointer, runtimeExpression]; same reason",
        with_task(edit(TASKS["raise"], ("raise", "error", "instance"), "${ $task }")),
    ),
}

# Deliberately stricter than the schema: the DSL reference documents these.
BEYOND_SCHEMA = {
    "evaluate mode not in enum": (
        "`evaluate` is in the DSL reference (Workflow, Evaluate) but not in the schema, whose "
        "top level allows any extra property",
        workflow(evaluate={"language": "jq", "mode": "sloppy"}),
    ),
}


def test_cases_have_unique_ids() -> None:
    ids = [case_id for case_id, _, _ in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("document", "valid"), [(doc, valid) for _, doc, valid in CASES], ids=[c[0] for c in CASES]
)
def test_podium_and_the_schema_agree(document: dict[str, Any], valid: bool) -> None:
    assert schema_accepts(document) is valid, "the case's expectation contradicts the schema"
    problems = validate(document)
    assert not problems if valid else problems, [str(p) for p in problems]


@pytest.mark.parametrize(("reason", "document"), KNOWN_GAPS.values(), ids=list(KNOWN_GAPS))
def test_known_gaps_are_real(reason: str, document: dict[str, Any]) -> None:
    assert not schema_accepts(document), f"gap closed, drop the entry: {reason}"
    assert podium_accepts(document)


@pytest.mark.parametrize(("reason", "document"), BEYOND_SCHEMA.values(), ids=list(BEYOND_SCHEMA))
def test_deliberately_stricter_than_the_schema(reason: str, document: dict[str, Any]) -> None:
    assert schema_accepts(document), reason
    assert not podium_accepts(document)


# --- random mutations of the examples ----------------------------------------------------------

EXAMPLE_DOCS = {path.name: _read(path) for path in EXAMPLES}
VALUES = [
    None, 0, -1, 1.5, 3.0, True, "", "x", "a b", "PT", "PT1S", "P1D", "0.1.0", "${ .x }",
    "${ .x\n}", "https://example.com", [], [{"a": 1}], {}, {"a": 1},
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _in_known_gap(node: Any) -> bool:
    expression = re.compile(r"^\s*\$\{.+\}\s*$")
    if isinstance(node, dict):
        return any(
            (key in ("time", "instance") and isinstance(value, str) and expression.match(value))
            or _in_known_gap(value)
            for key, value in node.items()
        )
    return isinstance(node, list) and any(_in_known_gap(item) for item in node)


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_mutated_examples_agree(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(EXAMPLE_DOCS)), label="example")
    doc = copy.deepcopy(EXAMPLE_DOCS[name])
    path = data.draw(st.sampled_from(list(_paths(doc))[1:]), label="path")
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    target = parent[path[-1]]
    operation = data.draw(st.sampled_from(["delete", "add", "rename", "set"]), label="operation")
    if operation == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif operation == "add" and isinstance(target, dict):
        target["bogus"] = 1
    elif operation == "rename" and isinstance(parent, dict):
        parent[f"{path[-1]}x"] = parent.pop(path[-1])
    else:
        parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(VALUES), label="value"))
    assume(not _in_known_gap(doc))
    schema, model = schema_accepts(doc), model_accepts(doc)
    note(f"schema accepts: {schema}, model accepts: {model}")
    # The model alone: a mutation may well break a flow target or a `use.*`
    # name, which the static checks (beyond the schema) refuse on purpose.
    assert schema == model
