"""`call: a2a` (dsl-reference "A2A Call"): JSON-RPC 2.0 over HTTP to an agent.

The method names of DSL 1.0.3 (``message/send``, ``tasks/get``, ...) are those of
the A2A 0.3 JSON-RPC binding, which is what this module speaks; no SDK is needed.

- The server is ``server`` or, when ``agentCard`` is set, the card's JSON-RPC
  interface (``url`` with ``preferredTransport`` JSONRPC, else an entry of
  ``additionalInterfaces`` or ``supportedInterfaces`` whose transport is JSONRPC).
  A card from an endpoint with an authentication policy uses that policy for the
  calls too: the DSL has no other place to put the agent's credentials once a
  card is given (``server`` is then ignored).
- ``message/send`` and ``message/stream`` default ``message.messageId``,
  ``message.role`` (``user``) and ``message.kind``. The default id is derived
  from the instance and the task's position, so a call repeated after a crash
  sends the same message id and the agent can recognise the repeat.
- The output is the JSON-RPC ``result``. For ``message/stream`` and
  ``tasks/resubscribe`` it is the list of every streamed result, in order,
  collected until the server ends the stream or sends a final event (a
  ``status-update`` with ``final: true``, or a ``message``).
- Errors: HTTP failures are communication errors (the HTTP status, or 503 when
  the server cannot be reached); a JSON-RPC error reply is a runtime error (the
  spec's choice) whose status follows the JSON-RPC code, see ``ERROR_STATUS``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

import httpx

from podium.auth import authorize
from podium.calls.http import resolve_uri
from podium.dsl import model as m
from podium.engine.errors import RUNTIME, WorkflowError
from podium.engine.state import TaskRun
from podium.payloads import NotJSON, parse_json
from podium.resources import read_document

# JSON-RPC error codes (JSON-RPC 2.0 and A2A 0.3 "Error Handling") -> status.
ERROR_STATUS: dict[int, int] = {
    -32700: 400,  # parse error
    -32600: 400,  # invalid request
    -32601: 404,  # method not found
    -32602: 400,  # invalid params
    -32603: 500,  # internal error
    -32001: 404,  # task not found
    -32002: 409,  # task not cancelable
    -32003: 501,  # push notifications not supported
    -32004: 501,  # unsupported operation
    -32005: 415,  # content type not supported
    -32006: 502,  # invalid agent response
    -32007: 404,  # authenticated extended card not configured
}
STREAMING_METHODS = frozenset({"message/stream", "tasks/resubscribe"})
_MESSAGE_METHODS = frozenset({"message/send", "message/stream"})
_JSONRPC = "JSONRPC"
# Agents may think for a long time between two streamed events.
_STREAM_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=None)


async def execute(task: m.CallA2A, run: TaskRun) -> Any:
    args = task.with_
    where = run.reference
    params = await run.template(args.parameters)
    if params is not None and not isinstance(params, dict):
        raise WorkflowError.expression(
            f"A2A 'parameters' must give an object, not {type(params).__name__}", where
        )
    if args.method in _MESSAGE_METHODS:
        params = _with_message_defaults(params or {}, run)

    url, headers = await _server(args, run)
    request: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": f"{run.instance.id}:{run.position}",
        "method": args.method,
    }
    if params is not None:
        request["params"] = params
    if args.method in STREAMING_METHODS:
        return await _stream(url, headers, request, run)
    return await _send(url, headers, request, run)


def _with_message_defaults(params: dict[str, Any], run: TaskRun) -> dict[str, Any]:
    message = params.get("message")
    if message is None:
        raise WorkflowError.validation(
            "A2A 'message/send' and 'message/stream' need 'parameters.message'", run.reference
        )
    if not isinstance(message, dict):
        raise WorkflowError.validation(
            f"A2A 'parameters.message' must be an object, not {type(message).__name__}",
            run.reference,
        )
    defaults = {
        "kind": "message",
        "role": "user",
        "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                    f"podium:{run.instance.id}:{run.position}")),
    }
    return {**params, "message": {**defaults, **message}}


async def _server(args: m.A2AArguments, run: TaskRun) -> tuple[str, dict[str, str]]:
    """The JSON-RPC endpoint and the headers every request carries."""
    headers = {"Accept": "application/json"}
    policy: m.ReferenceableAuthenticationPolicy | None = None
    if args.agent_card is not None:
        card, card_uri = await read_document(args.agent_card, run)
        url = _card_url(card, card_uri, run.reference)
        if isinstance(args.agent_card.endpoint, m.EndpointConfig):
            policy = args.agent_card.endpoint.authentication
    elif args.server is not None:
        url = await resolve_uri(args.server, run)
        if isinstance(args.server, m.EndpointConfig):
            policy = args.server.authentication
    else:
        raise WorkflowError.configuration(
            "an A2A call needs 'agentCard' or 'server'", run.reference
        )
    if policy is not None:
        authorization = await authorize(policy, run)
        run.authorization = authorization.descriptor()
        headers["Authorization"] = authorization.header
    return url, headers


def _card_url(card: Any, card_uri: str, where: str) -> str:
    if not isinstance(card, dict):
        raise WorkflowError.configuration(f"the agent card {card_uri} is not an object", where)
    candidates: list[tuple[str | None, Any]] = []
    if "url" in card:
        candidates.append((card.get("preferredTransport") or _JSONRPC, card["url"]))
    for item in [*(card.get("additionalInterfaces") or []),
                 *(card.get("supportedInterfaces") or [])]:
        if isinstance(item, dict):
            candidates.append((item.get("transport") or item.get("protocolBinding"),
                               item.get("url")))
    for transport, url in candidates:
        if str(transport).upper() == _JSONRPC and isinstance(url, str) and url:
            return urljoin(card_uri, url)
    offered = sorted({str(t) for t, _ in candidates}) or ["none"]
    raise WorkflowError.configuration(
        f"the agent card {card_uri} offers no JSON-RPC interface (transports: "
        f"{', '.join(offered)}); Podium calls A2A agents over JSON-RPC only",
        where,
    )


async def _send(url: str, headers: dict[str, str], request: dict[str, Any],
                run: TaskRun) -> Any:
    method = request["method"]
    client = run.instance.services.http
    try:
        response = await client.post(url, json=request, headers=headers)
    except httpx.HTTPError as exc:
        raise _network_error(exc, method, url, run.reference) from None
    _check_status(response, method, url, run.reference)
    try:
        reply = parse_json(response.content, f"the A2A {method} reply of {url}", run.reference)
    except NotJSON:
        raise WorkflowError.communication(
            f"A2A {method} at {url}: the server answered with non-JSON content",
            status=502, instance=run.reference,
        ) from None
    return _result(reply, method, run.reference)


async def _stream(url: str, headers: dict[str, str], request: dict[str, Any],
                  run: TaskRun) -> list[Any]:
    method = request["method"]
    client = run.instance.services.http
    results: list[Any] = []
    try:
        async with client.stream(
            "POST", url, json=request, headers={**headers, "Accept": "text/event-stream"},
            timeout=_STREAM_TIMEOUT,
        ) as response:
            if not 200 <= response.status_code <= 299:
                await response.aread()
                _check_status(response, method, url, run.reference)
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "text/event-stream":
                # A server may answer a stream request with one plain reply.
                await response.aread()
                return [_result(_json(response.text, method, url, run), method, run.reference)]
            async for data in _sse_data(response):
                result = _result(_json(data, method, url, run), method, run.reference)
                results.append(result)
                if _is_final(result):
                    break
    except httpx.HTTPError as exc:
        raise _network_error(exc, method, url, run.reference) from None
    return results


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (WHATWG "event stream" format)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)


def _is_final(result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    kind = result.get("kind")
    return kind == "message" or (kind == "status-update" and result.get("final") is True)


def _json(text: str, method: str, url: str, run: TaskRun) -> Any:
    try:
        return parse_json(text, f"an A2A {method} event of {url}", run.reference)
    except NotJSON:
        raise WorkflowError.communication(
            f"A2A {method} at {url}: the server sent non-JSON data: {text[:200]}",
            status=502, instance=run.reference,
        ) from None


def _result(reply: Any, method: str, where: str) -> Any:
    if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
        raise WorkflowError.communication(
            f"A2A {method}: the server's answer is not a JSON-RPC response", status=502,
            instance=where,
        )
    error = reply.get("error")
    if error is not None:
        raise jsonrpc_error(error, f"A2A {method}", ERROR_STATUS, where)
    return reply["result"]


def jsonrpc_error(error: Any, what: str, statuses: dict[int, int], where: str) -> WorkflowError:
    """A JSON-RPC error object as a runtime error (dsl-reference "A2A Call", "MCP Call")."""
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code")
    message = str(error.get("message") or "no message")
    detail = f"{what} failed: {message} (JSON-RPC error {code})"
    if error.get("data") is not None:
        detail += f"; data: {json.dumps(error['data'], default=str)[:500]}"
    status = statuses.get(code, 500) if isinstance(code, int) else 500
    return WorkflowError(RUNTIME, status=status, detail=detail, instance=where)


def _check_status(response: httpx.Response, method: str, url: str, where: str) -> None:
    if 200 <= response.status_code <= 299:
        return
    excerpt = response.text[:500] if response.content else ""
    raise WorkflowError.communication(
        f"A2A {method} at {url} answered {response.status_code} {response.reason_phrase}"
        + (f": {excerpt}" if excerpt else ""),
        status=response.status_code, title=response.reason_phrase or None, instance=where,
    )


def _network_error(exc: httpx.HTTPError, method: str, url: str, where: str) -> WorkflowError:
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return WorkflowError.configuration(f"invalid A2A endpoint '{url}': {exc}", where)
    reason = str(exc) or type(exc).__name__
    status = 503 if isinstance(exc, httpx.ConnectError | httpx.TimeoutException) else 500
    return WorkflowError.communication(
        f"A2A {method} at {url} failed: {reason}", status=status, title="Network Error",
        instance=where,
    )
