"""`call: grpc` against a real gRPC server (tests/support/grpc_server.py)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from podium import Runtime, WorkflowError
from podium.calls.grpc import _error
from tests.support.egress import TMP_FILES
from tests.support.grpc_server import PROTO, GreeterServer

ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"


def workflow(port: int, *, proto: str = PROTO.as_uri(), method: str = "SayHello",
             service: str = "podium.test.Greeter", arguments: str = "name: ${ .name }",
             extra: str = "", use: str = "") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: grpc, version: '1.0.0'}}
{use}
do:
  - greet:
      call: grpc
      with:
        proto:
          endpoint: {proto}
        service:
          name: {service}
          host: 127.0.0.1
          port: {port}
{extra}
        method: {method}
        arguments:
          {arguments}
"""


async def run(doc: str | Path, data: Any = None, **options: Any) -> Any:
    options.setdefault("settings", TMP_FILES)  # resource files in tmp_path
    async with Runtime(**options) as runtime:
        return await runtime.run(doc, data)


async def fault(doc: str | Path, data: Any = None, **options: Any) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        await run(doc, data, **options)
    return caught.value


@pytest.fixture
async def server() -> AsyncIterator[GreeterServer]:
    async with GreeterServer() as running:
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_unary_call_with_arguments_from_expressions(server: GreeterServer) -> None:
    doc = workflow(server.port, arguments="""
          name: ${ .user.name }
          id: ${ .user.id }
          tags: ${ .user.tags }
          mood: HAPPY
          address:
            city: ${ .user.city }""") + """
      output:
        as: '{greeting: .message, id: .id, tags: .tags, mood: .mood, city: .address.city,
              formal: .formal}'
"""
    # Past 2^53 an int64 travels as a string both ways (proto3 JSON mapping): jq,
    # like any JSON number reader, would round it.
    user = {"name": "Ada", "id": "9007199254740993", "tags": ["b", "a"], "city": "London"}
    out = await run(doc, {"user": user})
    assert out == {
        "greeting": "Hello, Ada!",
        "id": "18014398509481986",
        "tags": ["a", "b"],
        "mood": "HAPPY",
        "city": "London",
        "formal": False,  # fields without presence come back with their default
    }
    request, _ = server.calls[0]
    assert request["id"] == "9007199254740993"
    assert request["address"] == {"city": "London"}


async def test_service_by_simple_name_and_int64_as_string(server: GreeterServer) -> None:
    doc = workflow(server.port, service="Greeter", arguments="""
          name: Bob
          id: '21'""")
    out = await run(doc)
    assert out["id"] == "42"
    assert out["message"] == "Hello, Bob!"


async def test_not_found_is_a_communication_error_404(server: GreeterServer) -> None:
    error = await fault(workflow(server.port), {"name": "nobody"})
    assert (error.type, error.status, error.instance) == (
        ERRORS + "communication", 404, "/do/0/greet"
    )
    assert error.detail is not None
    assert "no person named nobody" in error.detail
    assert "/podium.test.Greeter/SayHello" in error.detail


async def test_not_found_can_be_caught_by_status(server: GreeterServer) -> None:
    doc = f"""
document: {{dsl: '1.0.3', namespace: test, name: grpc, version: '1.0.0'}}
do:
  - attempt:
      try:
        - greet:
            call: grpc
            with:
              proto:
                endpoint: {PROTO.as_uri()}
              service: {{name: podium.test.Greeter, host: 127.0.0.1, port: {server.port}}}
              method: SayHello
              arguments: {{name: nobody}}
      catch:
        errors:
          with: {{type: {ERRORS}communication, status: 404}}
        do:
          - fallback:
              set: {{missing: true}}
"""
    assert await run(doc) == {"missing": True}


async def test_unreachable_server_is_a_communication_error_503() -> None:
    error = await fault(workflow(free_port()), {"name": "Ada"})
    assert (error.type, error.status, error.instance) == (
        ERRORS + "communication", 503, "/do/0/greet"
    )


async def test_bearer_authentication_is_sent_as_metadata(server: GreeterServer) -> None:
    doc = workflow(server.port, extra="""
          authentication:
            bearer:
              token: ${ .token }""")
    out = await run(doc, {"name": "Ada", "token": "s3cret"})
    assert out["authorization"] == "Bearer s3cret"
    assert server.calls[0][1]["authorization"] == "Bearer s3cret"


async def test_named_authentication_from_a_secret(server: GreeterServer) -> None:
    doc = workflow(server.port, extra="""
          authentication:
            use: greeter""", use="""
use:
  secrets: [greeterToken]
  authentications:
    greeter:
      bearer:
        use: greeterToken""")
    await run(doc, {"name": "Ada"}, secrets={"greeterToken": {"token": "t0k"}})
    assert server.calls[0][1]["authorization"] == "Bearer t0k"


async def test_proto_path_relative_to_the_workflow_file(
    server: GreeterServer, tmp_path: Path
) -> None:
    (tmp_path / "protos").mkdir()
    shutil.copy(PROTO, tmp_path / "protos" / "greeter.proto")
    path = tmp_path / "greet.yaml"
    # The schema wants absolute URIs; a path relative to the workflow file comes
    # from an expression.
    path.write_text(workflow(server.port, proto="${ \"protos/greeter.proto\" }"))
    assert (await run(path, {"name": "Ada"}))["message"] == "Hello, Ada!"


async def test_proto_imports_resolve_next_to_the_proto(
    server: GreeterServer, tmp_path: Path
) -> None:
    text = PROTO.read_text()
    end = text.index("service Greeter")
    (tmp_path / "messages.proto").write_text(
        'syntax = "proto3";\npackage podium.test;\n'
        'import "google/protobuf/timestamp.proto";\n'
        + text[text.index("enum Mood"):end]
    )
    (tmp_path / "greeter.proto").write_text(
        'syntax = "proto3";\npackage podium.test;\nimport "messages.proto";\n' + text[end:]
    )
    path = tmp_path / "greet.yaml"
    path.write_text(workflow(server.port, proto=(tmp_path / "greeter.proto").as_uri()))
    assert (await run(path, {"name": "Ada"}))["message"] == "Hello, Ada!"
    # The same with the relative form the spec's example uses (file://dir/x.proto).
    (tmp_path / "protos").mkdir()
    for name in ("messages.proto", "greeter.proto"):
        (tmp_path / name).rename(tmp_path / "protos" / name)
    path.write_text(workflow(server.port, proto="file://protos/greeter.proto"))
    assert (await run(path, {"name": "Ada"}))["message"] == "Hello, Ada!"


async def test_proto_syntax_error_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "broken.proto").write_text(
        'syntax = "proto3";\nmessage Person { string name = 1 }\n'
    )
    error = await fault(workflow(free_port(), proto=(tmp_path / "broken.proto").as_uri()),
                        {"name": "Ada"})
    assert (error.type, error.instance) == (ERRORS + "configuration", "/do/0/greet")
    assert error.detail is not None
    assert 'broken.proto:2:34: Expected ";"' in error.detail


async def test_unknown_service_and_method_are_configuration_errors(
    server: GreeterServer,
) -> None:
    error = await fault(workflow(server.port, service="podium.test.Nope"), {"name": "Ada"})
    assert error.type == ERRORS + "configuration"
    assert "podium.test.Greeter" in (error.detail or "")  # names what exists
    error = await fault(workflow(server.port, method="Wave"), {"name": "Ada"})
    assert error.type == ERRORS + "configuration"
    assert "no method 'Wave'" in (error.detail or "")


async def test_streaming_methods_are_refused_by_kind(server: GreeterServer) -> None:
    error = await fault(workflow(server.port, method="Chat"), {"name": "Ada"})
    assert error.type == ERRORS + "configuration"
    assert "bidirectional streaming" in (error.detail or "")
    assert not server.calls


async def test_arguments_that_do_not_fit_the_message(server: GreeterServer) -> None:
    error = await fault(workflow(server.port, arguments="shoeSize: 44"), {"name": "Ada"})
    assert (error.type, error.status) == (ERRORS + "validation", 400)
    assert "podium.test.Person" in (error.detail or "")
    assert not server.calls


@pytest.mark.parametrize(
    ("code", "error_type", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "communication", 400),
        (grpc.StatusCode.UNAUTHENTICATED, "communication", 401),
        (grpc.StatusCode.PERMISSION_DENIED, "communication", 403),
        (grpc.StatusCode.NOT_FOUND, "communication", 404),
        (grpc.StatusCode.UNAVAILABLE, "communication", 503),
        (grpc.StatusCode.INTERNAL, "communication", 500),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "communication", 500),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "timeout", 408),
    ],
    ids=lambda value: value.name if isinstance(value, grpc.StatusCode) else None,
)
def test_status_codes_map_to_http_like_statuses(
    code: grpc.StatusCode, error_type: str, status: int
) -> None:
    failure = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "why")
    error = _error(failure, "/p.S/M", "h:1", "/do/0/t")
    assert (error.type, error.status, error.instance) == (ERRORS + error_type, status, "/do/0/t")
    assert error.detail == f"/p.S/M on h:1 answered {code.name}: why"
