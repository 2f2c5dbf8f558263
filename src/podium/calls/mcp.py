"""`call: mcp` (dsl-reference "MCP Call", "MCP Transport", "MCP Client") with the
official ``mcp`` SDK (the ``mcp`` extra).

Each call opens a session, performs the handshake, sends one request and closes:
calls are journaled effects, and a session kept across tasks would not survive a
restart anyway.

- Transports: ``http`` is the streamable HTTP transport (the legacy HTTP+SSE
  transport of 2024-11-05 is not supported); ``stdio`` starts a local process,
  which the operator must allow like ``run: shell`` (``PODIUM_ALLOW_RUN=shell``).
  The process sees only the SDK's safe default environment (PATH, HOME, ...)
  plus ``environment``, never Podium's own secrets. ``transport.options`` is
  ignored: no option is defined.
- Handshake: a handshake-era ``protocolVersion`` (2025-06-18, the default, and
  older) sends ``initialize`` proposing that version; the server may answer with
  another version it prefers. A 2026 version uses ``server/discover`` instead.
- The output is the JSON-RPC result as received (one page: ``nextCursor`` is
  returned, not followed). A ``tools/call`` result with ``isError: true`` fails
  the task: the tool reported a failure.
- Errors: a JSON-RPC error reply is a runtime error (the spec's choice) whose
  status follows the code (``ERROR_STATUS``); a server that cannot be reached or
  goes away is a communication error (503); ``timeout`` expiring is a timeout
  error (408); a stdio command that cannot be started is a configuration error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError

try:
    import httpx2
    import mcp_types as types
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
except ModuleNotFoundError as exc:
    # Name the package to install (the extra), not whichever dependency of it
    # happened to be imported first.
    raise ModuleNotFoundError(f"the 'mcp' package is missing ({exc})", name="mcp") from exc

from podium import egress
from podium._version import __version__
from podium.auth import authorize
from podium.calls.a2a import jsonrpc_error
from podium.calls.http import resolve_uri
from podium.dsl import model as m
from podium.engine.errors import AUTHORIZATION, RUNTIME, WorkflowError
from podium.engine.runner import duration_seconds
from podium.engine.state import TaskRun
from podium.payloads import check_data

# JSON-RPC error codes (JSON-RPC 2.0 and MCP) -> status.
ERROR_STATUS: dict[int, int] = {
    -32700: 400,  # parse error
    -32600: 400,  # invalid request
    -32601: 404,  # method not found
    -32602: 400,  # invalid params (MCP: also unknown resource, unknown prompt)
    -32603: 500,  # internal error
    -32002: 404,  # resource not found
    -32022: 400,  # unsupported protocol version
}
_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001

# method -> (request model, result model)
_METHODS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "tools/list": (types.ListToolsRequest, types.ListToolsResult),
    "tools/call": (types.CallToolRequest, types.CallToolResult),
    "prompts/list": (types.ListPromptsRequest, types.ListPromptsResult),
    "prompts/get": (types.GetPromptRequest, types.GetPromptResult),
    "resources/list": (types.ListResourcesRequest, types.ListResourcesResult),
    "resources/read": (types.ReadResourceRequest, types.ReadResourceResult),
    "resources/templates/list": (
        types.ListResourceTemplatesRequest, types.ListResourceTemplatesResult,
    ),
}
# The SDK's defaults: a server may hold a response stream open a long time.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)

_Streams = tuple[Any, Any]


async def execute(task: m.CallMCP, run: TaskRun) -> Any:
    args = task.with_
    where = run.reference
    version = args.protocol_version
    if version not in HANDSHAKE_PROTOCOL_VERSIONS and version not in MODERN_PROTOCOL_VERSIONS:
        known = ", ".join((*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS))
        raise WorkflowError.configuration(
            f"MCP protocol version '{version}' is not supported (supported: {known})", where
        )
    params = await run.template(args.parameters)
    request, result_type = _request(args.method, params, where)
    client = types.Implementation(
        name=args.client.name if args.client else "podium",
        version=str(args.client.version) if args.client else __version__,
    )
    seconds = (await duration_seconds(args.timeout, run, run.instance, where, "timeout")
               if args.timeout is not None else None)
    connect, target = await _transport(args.transport, run)

    try:
        with anyio.move_on_after(seconds) as deadline:
            result = await _call(connect, version, client, request, result_type)
    except Exception as exc:
        raise _translate(exc, args.method, target, where) from None
    if deadline.cancelled_caught:
        raise WorkflowError.timeout(
            f"MCP {args.method} on {target} did not complete within {seconds:g} s", where
        )

    output = check_data(
        result.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True),
        f"the result of MCP {args.method} on {target}", where,
    )
    if args.method == "tools/call" and output.get("isError") is True:
        raise WorkflowError(RUNTIME, detail=f"MCP tool '{params.get('name')}' on {target} "
                            f"reported an error: {_text(output)}", instance=where)
    return output


def _request(method: str, params: Any, where: str) -> tuple[BaseModel, type[BaseModel]]:
    if params is not None and not isinstance(params, dict):
        raise WorkflowError.expression(
            f"MCP 'parameters' must give an object, not {type(params).__name__}", where
        )
    request_type, result_type = _METHODS[method]
    data: dict[str, Any] = {"method": method}
    if params is not None:
        data["params"] = params
    try:
        return request_type.model_validate(data, by_name=False), result_type
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:]) or 'parameters'}: {error['msg']}"
            for error in exc.errors()
        )
        raise WorkflowError.validation(
            f"invalid parameters for MCP {method}: {problems}", where
        ) from None


async def _transport(
    transport: m.MCPTransport, run: TaskRun
) -> tuple[Callable[[], AbstractAsyncContextManager[_Streams]], str]:
    """A factory of the transport's stream pair, and a name for messages."""
    where = run.reference
    if transport.http is not None:
        http = transport.http
        uri = await resolve_uri(http.endpoint, run)
        headers = await run.template(http.headers) or {}
        if not isinstance(headers, dict):
            raise WorkflowError.expression("MCP transport 'headers' must give an object", where)
        headers = {str(k): str(v) for k, v in headers.items()}
        if isinstance(http.endpoint, m.EndpointConfig) and http.endpoint.authentication:
            authorization = await authorize(http.endpoint.authentication, run)
            run.authorization = authorization.descriptor()
            headers["Authorization"] = authorization.header
        settings = run.instance.services.settings
        await egress.check_url(uri, settings, where)

        @asynccontextmanager
        async def connect_http() -> AsyncIterator[_Streams]:
            async with httpx2.AsyncClient(headers=headers, timeout=_HTTP_TIMEOUT) as client:
                egress.guard(client, settings)  # every request, redirects included
                async with streamable_http_client(uri, http_client=client) as streams:
                    yield streams

        return connect_http, uri

    stdio = transport.stdio
    assert stdio is not None  # the model requires exactly one transport
    if "shell" not in run.instance.services.settings.allow_run:
        raise WorkflowError(
            AUTHORIZATION,
            detail="an MCP stdio transport starts a local process like run: shell, which is "
                   "disabled on this runtime; the operator enables it with `--allow-run shell` "
                   "or PODIUM_ALLOW_RUN=shell",
            instance=where,
        )
    command = await run.template(stdio.command)
    arguments = await run.template(stdio.arguments) or []
    environment = await run.template(stdio.environment) or {}
    if not isinstance(command, str) or not isinstance(arguments, list) or not isinstance(
        environment, dict
    ):
        raise WorkflowError.expression(
            "an MCP stdio transport needs a command string, a list of arguments and an "
            "object of environment variables", where,
        )
    parameters = StdioServerParameters(
        command=command,
        args=[str(a) for a in arguments],
        env={str(k): str(v) for k, v in environment.items()},
    )
    return (lambda: stdio_client(parameters)), f"'{command}'"


async def _call(
    connect: Callable[[], AbstractAsyncContextManager[_Streams]],
    version: str,
    client: types.Implementation,
    request: BaseModel,
    result_type: type[BaseModel],
) -> BaseModel:
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(connect())
        session = await stack.enter_async_context(
            ClientSession(read, write, client_info=client)
        )
        await _handshake(session, version, client)
        result: BaseModel = await session.send_request(request, result_type)  # type: ignore[arg-type]
        return result


async def _handshake(session: ClientSession, version: str, client: types.Implementation) -> None:
    if version in MODERN_PROTOCOL_VERSIONS:
        raw = await session.send_discover(version)
        session.adopt(types.DiscoverResult.model_validate(raw, by_name=False))
        return
    # ClientSession.initialize() always proposes the SDK's latest version; the
    # workflow chooses it here.
    result = await session.send_request(
        types.InitializeRequest(
            params=types.InitializeRequestParams(
                protocol_version=version,
                capabilities=types.ClientCapabilities(),
                client_info=client,
            )
        ),
        types.InitializeResult,
    )
    if result.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
        raise WorkflowError(
            RUNTIME, status=502,
            detail=f"the MCP server answered the handshake with protocol version "
                   f"'{result.protocol_version}', which Podium does not support",
        )
    session.adopt(result)
    await session.send_notification(types.InitializedNotification())


def _translate(exc: Exception, method: str, target: str, where: str) -> WorkflowError:
    """The first telling exception inside the SDK's task groups, as a WorkflowError."""
    leaf = _telling_leaf(exc)
    what = f"MCP {method} on {target}"
    if isinstance(leaf, WorkflowError):
        leaf.instance = leaf.instance or where
        return leaf
    if isinstance(leaf, MCPError):
        if leaf.code == _CONNECTION_CLOSED:
            return WorkflowError.communication(
                f"{what} failed: the server closed the connection", status=503,
                instance=where,
            )
        if leaf.code == _REQUEST_TIMEOUT:
            return WorkflowError.timeout(f"{what} timed out: {leaf.message}", where)
        return jsonrpc_error(leaf.error.model_dump(mode="json"), what, ERROR_STATUS, where)
    if isinstance(leaf, httpx2.HTTPError):
        status = 503 if isinstance(leaf, httpx2.ConnectError | httpx2.TimeoutException) else 500
        return WorkflowError.communication(
            f"{what} failed: {leaf or type(leaf).__name__}", status=status,
            title="Network Error", instance=where,
        )
    if isinstance(leaf, FileNotFoundError | PermissionError):
        return WorkflowError.configuration(
            f"cannot start the MCP server {target}: {leaf.strerror or leaf}", where
        )
    if isinstance(leaf, OSError):
        return WorkflowError.communication(f"{what} failed: {leaf}", status=503, instance=where)
    if isinstance(leaf, ValidationError):
        return WorkflowError(RUNTIME, status=502, instance=where,
                             detail=f"{what}: the server's result is invalid: {leaf}")
    return WorkflowError(RUNTIME, instance=where,
                         detail=f"{what} failed: {type(leaf).__name__}: {leaf}")


def _telling_leaf(exc: BaseException) -> BaseException:
    leaves = list(_leaves(exc))

    def rank(leaf: BaseException) -> int:
        if isinstance(leaf, WorkflowError):
            return 0
        if isinstance(leaf, MCPError) and leaf.code != _CONNECTION_CLOSED:
            return 1
        # "Connection closed" is often the consequence of another failure.
        return 3 if isinstance(leaf, MCPError) else 2

    return min(leaves, key=rank)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _text(result: dict[str, Any]) -> str:
    parts = [item.get("text", "") for item in result.get("content") or []
             if isinstance(item, dict) and item.get("type") == "text"]
    return " ".join(p for p in parts if p) or json.dumps(result.get("content"))[:500]

