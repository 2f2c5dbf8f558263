"""Payloads entering an instance (issue 7, items 1 and 10): response bodies are
read up to the payload limit without buffering the rest, JSON deeper than the
depth limit faults (never a RecursionError), and NaN/Infinity are not JSON."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from podium import Runtime, WorkflowError
from podium.calls.asyncapi import _decode
from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES
from podium.payloads import NotJSON, check_data, parse_json
from tests.support.threaded_server import ThreadedServer

COMMUNICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/communication"
JSON = "application/json"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def endless(request: Request) -> StreamingResponse:
    """A body without end (and without a Content-Length)."""

    async def chunks() -> AsyncIterator[bytes]:
        block = b"x" * 65536
        while not await request.is_disconnected():
            yield block

    return StreamingResponse(chunks(), media_type="text/plain")


async def declared(request: Request) -> Response:
    """A Content-Length of 10 GB: refused before a byte of the body is read."""
    return Response(b"{}", headers={"content-length": str(10 * 1024**3)}, media_type=JSON)


async def bomb(request: Request) -> Response:
    """A small gzip body that inflates past the limit."""
    body = gzip.compress(b"0" * (MAX_PAYLOAD_BYTES + 1024 * 1024))
    return Response(body, headers={"content-encoding": "gzip"}, media_type="text/plain")


async def small_gzip(request: Request) -> Response:
    body = gzip.compress(json.dumps({"ok": True}).encode())
    return Response(body, headers={"content-encoding": "gzip"}, media_type=JSON)


BODIES = {
    "deep": nested(5000),
    "deeper-than-the-limit": nested(MAX_DEPTH + 50),
    "at-the-limit": nested(MAX_DEPTH),
    "nan": '{"v": NaN}',
    "infinity": '{"v": -Infinity}',
    "huge-number": '{"v": 1e999}',
}


async def body(request: Request) -> Response:
    name = request.path_params["name"]
    if request.url.path.startswith("/a2a/"):
        text = '{"jsonrpc": "2.0", "id": 1, "result": ' + BODIES[name] + "}"
    else:
        text = BODIES[name]
    return Response(text, media_type=JSON)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = Starlette(routes=[
        Route("/endless", endless), Route("/declared", declared), Route("/bomb", bomb),
        Route("/small-gzip", small_gzip), Route("/body/{name}", body),
        Route("/a2a/{name}", body, methods=["POST"]),
    ])
    with ThreadedServer(app) as running:
        yield f"http://127.0.0.1:{running.port}"


def call(url: str, output: str = "content") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: payload, version: '1.0.0'}}
do:
  - fetch:
      call: http
      with: {{method: get, endpoint: '{url}', output: {output}}}
"""


async def execute(doc: str) -> Any:
    async with asyncio.timeout(60), Runtime() as runtime:
        return await runtime.execute(doc)


async def fault(doc: str) -> WorkflowError:
    execution = await execute(doc)
    assert execution.status == "faulted", execution
    assert execution.error is not None
    return execution.error


@pytest.mark.parametrize("path", ["endless", "declared", "bomb"])
async def test_a_body_beyond_the_payload_limit_faults_without_being_buffered(
    server: str, path: str
) -> None:
    error = await fault(call(f"{server}/{path}"))
    assert error.type == COMMUNICATION and error.status == 502
    assert f"is larger than {MAX_PAYLOAD_BYTES} bytes, the payload limit" in str(error.detail)
    assert error.instance == "/do/0/fetch"


async def test_a_large_declared_length_without_a_body_is_fine(server: str) -> None:
    doc = call(f"{server}/declared").replace("method: get", "method: head")
    execution = await execute(doc)
    assert execution.status == "completed", execution.error


async def test_a_raw_output_is_bounded_too(server: str) -> None:
    error = await fault(call(f"{server}/endless", output="raw"))
    assert "the payload limit" in str(error.detail)


async def test_compressed_bodies_within_the_limit_are_decoded(server: str) -> None:
    execution = await execute(call(f"{server}/small-gzip"))
    assert execution.output == {"ok": True}


@pytest.mark.parametrize("name", ["deep", "deeper-than-the-limit"])
async def test_json_nested_beyond_the_depth_limit_faults(server: str, name: str) -> None:
    error = await fault(call(f"{server}/body/{name}"))
    assert error.type == COMMUNICATION
    assert f"deeper than {MAX_DEPTH} levels, the depth limit" in str(error.detail)


async def test_json_at_the_depth_limit_is_taken(server: str) -> None:
    execution = await execute(call(f"{server}/body/at-the-limit"))
    assert execution.status == "completed", execution.error


@pytest.mark.parametrize("name", ["nan", "infinity", "huge-number"])
async def test_non_finite_numbers_are_not_json_and_stay_text(server: str, name: str) -> None:
    execution = await execute(call(f"{server}/body/{name}"))
    assert execution.status == "completed", execution.error
    assert execution.output == BODIES[name]  # the text as received, never a float


@pytest.mark.parametrize("name, problem", [("deep", "depth limit"), ("nan", "non-JSON")])
async def test_a2a_replies_are_held_to_the_same_rules(
    server: str, name: str, problem: str
) -> None:
    error = await fault(f"""
document: {{dsl: '1.0.3', namespace: test, name: a2a-payload, version: '1.0.0'}}
do:
  - ask:
      call: a2a
      with:
        method: tasks/get
        server: '{server}/a2a/{name}'
        parameters: {{id: t1}}
""")
    assert error.type == COMMUNICATION and problem in str(error.detail)


def test_parse_json_refuses_what_is_not_strict_json() -> None:
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "{", "1" * 5000):
        with pytest.raises(NotJSON):
            parse_json(text, "a body")
    assert parse_json(b'{"a": [1.5, "x"]}', "a body") == {"a": [1.5, "x"]}
    with pytest.raises(WorkflowError, match="depth limit"):
        parse_json(nested(100_000), "a body")


def test_broker_messages_and_library_results_are_held_to_the_limits() -> None:
    assert _decode(b'{"a": 1}', "a message", "/do/0") == {"a": 1}
    assert _decode(b'{"a": NaN}', "a message", "/do/0") == '{"a": NaN}'
    with pytest.raises(WorkflowError, match="depth limit"):
        _decode(nested(3000).encode(), "a message", "/do/0")
    with pytest.raises(WorkflowError, match="payload limit"):
        _decode(b" " * (MAX_PAYLOAD_BYTES + 1), "a message", "/do/0")
    deep: Any = 1
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(WorkflowError, match="depth limit"):
        check_data(deep, "an MCP result")
    with pytest.raises(WorkflowError, match="NaN or Infinity"):
        check_data({"v": float("nan")}, "an MCP result")
    assert check_data({"v": [1, "x"]}, "an MCP result") == {"v": [1, "x"]}
