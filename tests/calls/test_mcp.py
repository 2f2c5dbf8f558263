"""`call: mcp` against a real MCP server (tests/support/mcp_server.py), over
stdio (a subprocess) and over streamable HTTP (uvicorn in a thread)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from tests.support.mcp_server import MCPHttpServer

SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "mcp_server.py"
ALLOW_SHELL = Settings(allow_run=frozenset({"shell"}))
ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"


@pytest.fixture(scope="module")
def http_server() -> Iterator[MCPHttpServer]:
    with MCPHttpServer() as server:
        yield server


def stdio() -> dict[str, Any]:
    return {"stdio": {"command": sys.executable, "arguments": [str(SERVER_SCRIPT)]}}


def http(server: MCPHttpServer, **extra: Any) -> dict[str, Any]:
    return {"http": {"endpoint": server.url, **extra}}


def workflow(method: str, transport: dict[str, Any], parameters: Any = None,
             **extra: Any) -> str:
    arguments: dict[str, Any] = {"method": method, "transport": transport, **extra}
    if parameters is not None:
        arguments["parameters"] = parameters
    document = {
        "document": {"dsl": "1.0.3", "namespace": "test", "name": "mcp", "version": "1.0.0"},
        "do": [{"call": {"call": "mcp", "with": arguments}}],
    }
    return json.dumps(document)  # JSON is YAML: no quoting surprises in expressions


async def run(doc: str, data: Any = None, settings: Settings = ALLOW_SHELL,
              **options: Any) -> Any:
    async with Runtime(settings=settings, **options) as runtime:
        return await runtime.run(doc, data)


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest, http_server: MCPHttpServer) -> dict[str, Any]:
    return stdio() if request.param == "stdio" else http(http_server)


async def test_tools_list(transport: dict[str, Any]) -> None:
    out = await run(workflow("tools/list", transport))
    tools = {tool["name"]: tool for tool in out["tools"]}
    assert {"add", "explode", "environment"} <= set(tools)
    assert tools["add"]["inputSchema"]["required"] == ["a", "b"]


async def test_tools_call_with_expression_arguments(transport: dict[str, Any]) -> None:
    doc = workflow("tools/call", transport,
                   {"name": "add", "arguments": {"a": "${ .x }", "b": "${ .y * 2 }"}})
    out = await run(doc, {"x": 2, "y": 20})
    assert out["content"] == [{"type": "text", "text": "42"}]
    assert out["structuredContent"] == {"result": 42}


async def test_parameters_as_one_expression(transport: dict[str, Any]) -> None:
    doc = workflow("tools/call", transport, "${ {name: \"add\", arguments: .} }")
    assert (await run(doc, {"a": 1, "b": 1}))["structuredContent"] == {"result": 2}


async def test_resources_read(transport: dict[str, Any]) -> None:
    uri = '${ "memo://notes/" + .topic }'
    out = await run(workflow("resources/read", transport, {"uri": uri}), {"topic": "jq"})
    assert out["contents"] == [
        {"uri": "memo://notes/jq", "mimeType": "text/plain", "text": "A note about jq."}
    ]


async def test_resources_list_and_templates(transport: dict[str, Any]) -> None:
    listed = await run(workflow("resources/list", transport))
    assert [r["uri"] for r in listed["resources"]] == ["memo://readme"]
    templates = await run(workflow("resources/templates/list", transport))
    assert [t["uriTemplate"] for t in templates["resourceTemplates"]] == ["memo://notes/{name}"]


async def test_prompts_get(transport: dict[str, Any]) -> None:
    out = await run(workflow("prompts/get", transport,
                             {"name": "greeting", "arguments": {"name": "Ada"}}))
    assert out["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Say hello to Ada."}}
    ]
    listed = await run(workflow("prompts/list", transport))
    assert [p["name"] for p in listed["prompts"]] == ["greeting"]


async def test_unknown_tool_is_a_runtime_error(transport: dict[str, Any]) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("tools/call", transport, {"name": "nope", "arguments": {}}))
    assert caught.value.type == ERRORS + "runtime"
    assert "Unknown tool: nope" in str(caught.value.detail)
    assert caught.value.instance == "/do/0/call"


async def test_failing_tool_is_a_runtime_error(transport: dict[str, Any]) -> None:
    doc = workflow("tools/call", transport, {"name": "explode", "arguments": {"reason": "x"}})
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "runtime"
    assert "'explode'" in str(caught.value.detail)
    assert "exploded: x" in str(caught.value.detail)


async def test_json_rpc_error_keeps_its_code_and_maps_the_status(
    transport: dict[str, Any],
) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("resources/read", transport, {"uri": "memo://missing"}))
    assert caught.value.type == ERRORS + "runtime"
    assert caught.value.status == 400  # -32602, how the SDK's server reports it
    assert "Unknown resource" in str(caught.value.detail)
    assert "-32602" in str(caught.value.detail)


async def test_a_caught_mcp_error_lets_the_workflow_continue(
    http_server: MCPHttpServer,
) -> None:
    document = {
        "document": {"dsl": "1.0.3", "namespace": "test", "name": "mcp", "version": "1.0.0"},
        "do": [{"guarded": {
            "try": [{"call": {"call": "mcp", "with": {
                "method": "tools/call", "transport": http(http_server),
                "parameters": {"name": "nope"}}}}],
            "catch": {"errors": {"with": {"type": ERRORS + "runtime"}}, "as": "error",
                      "do": [{"note": {"set": {"failed": "${ $error.detail }"}}}]},
        }}],
    }
    out = await run(json.dumps(document))
    assert "nope" in out["failed"]


async def test_invalid_parameters_are_a_validation_error() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("tools/call", stdio(), {"arguments": {}}))
    assert caught.value.type == ERRORS + "validation"
    assert "name" in str(caught.value.detail)


async def test_stdio_is_refused_unless_the_operator_allows_processes() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("tools/list", stdio()), settings=Settings())
    assert caught.value.type == ERRORS + "authorization"
    assert caught.value.status == 403
    assert "PODIUM_ALLOW_RUN" in str(caught.value.detail)


async def test_http_needs_no_permission(http_server: MCPHttpServer) -> None:
    out = await run(workflow("tools/list", http(http_server)), settings=Settings())
    assert out["tools"]


async def test_stdio_environment_reaches_the_server() -> None:
    transport = stdio()
    transport["stdio"]["environment"] = {"PODIUM_MCP_PROBE": "${ .value }"}
    doc = workflow("tools/call", transport,
                   {"name": "environment", "arguments": {"name": "PODIUM_MCP_PROBE"}})
    out = await run(doc, {"value": "seen"})
    assert out["structuredContent"] == {"result": "seen"}


async def test_stdio_command_not_found_is_a_configuration_error() -> None:
    doc = workflow("tools/list", {"stdio": {"command": "/nonexistent/podium-mcp"}})
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "configuration"
    assert "/nonexistent/podium-mcp" in str(caught.value.detail)


async def test_stdio_server_that_exits_is_a_communication_error() -> None:
    doc = workflow("tools/list", {"stdio": {"command": sys.executable,
                                            "arguments": ["-c", "pass"]}})
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "communication"
    assert caught.value.status == 503


async def test_unreachable_http_server_is_a_communication_error(
    unused_tcp_port: int,
) -> None:
    doc = workflow("tools/list", {"http": {"endpoint": f"http://127.0.0.1:{unused_tcp_port}/mcp"}})
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "communication"
    assert caught.value.status == 503


async def test_timeout_bounds_the_call() -> None:
    # A "server" that never answers the handshake.
    doc = workflow("tools/list", {"stdio": {"command": sys.executable,
                                            "arguments": ["-c", "import time; time.sleep(30)"]}},
                   timeout="PT0.3S")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "timeout"
    assert caught.value.status == 408


async def test_headers_client_info_and_protocol_version(http_server: MCPHttpServer) -> None:
    http_server.headers_seen.clear()
    doc = workflow("tools/list", http(http_server, headers={"X-Trace": "${ .trace }"}),
                   client={"name": "synapse", "version": "1.0.0-alpha5.2"},
                   protocolVersion="2025-03-26")
    await run(doc, {"trace": "abc"})
    assert all(headers.get("x-trace") == "abc" for headers in http_server.headers_seen)
    # After the handshake the client states the version the server agreed to.
    assert any(headers.get("mcp-protocol-version") == "2025-03-26"
               for headers in http_server.headers_seen)


async def test_endpoint_authentication_sends_the_authorization_header(
    http_server: MCPHttpServer,
) -> None:
    http_server.headers_seen.clear()
    endpoint = {"uri": http_server.url, "authentication": {"bearer": {"token": "s3cret"}}}
    await run(workflow("tools/list", {"http": {"endpoint": endpoint}}))
    assert http_server.headers_seen
    assert all(h.get("authorization") == "Bearer s3cret" for h in http_server.headers_seen)


async def test_unknown_protocol_version_is_a_configuration_error(
    http_server: MCPHttpServer,
) -> None:
    doc = workflow("tools/list", http(http_server), protocolVersion="1999-01-01")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "configuration"
    assert "1999-01-01" in str(caught.value.detail)


@pytest.mark.parametrize("version", ["2024-11-05", "2025-06-18", "2026-07-28"])
async def test_handshake_and_discovery_protocol_versions(
    http_server: MCPHttpServer, version: str
) -> None:
    # Handshake-era versions send `initialize`; 2026-07-28 uses `server/discover`.
    doc = workflow("tools/call", http(http_server), {"name": "add", "arguments": {"a": 1, "b": 2}},
                   protocolVersion=version)
    assert (await run(doc))["structuredContent"] == {"result": 3}


async def test_without_the_mcp_extra_the_error_names_the_package(
    monkeypatch: pytest.MonkeyPatch, http_server: MCPHttpServer
) -> None:
    # As if the SDK were not installed: its HTTP client is the first import.
    monkeypatch.delitem(sys.modules, "podium.calls.mcp")
    monkeypatch.setitem(sys.modules, "httpx2", None)
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("tools/list", http(http_server)))
    assert caught.value.type == ERRORS + "configuration"
    assert "'mcp'" in str(caught.value.detail)
