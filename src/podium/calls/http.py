"""`call: http` (dsl-reference "HTTP Call", "Endpoint", "URI Template",
"HTTP Request", "HTTP Response")."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from podium.auth import authorize
from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.expressions import is_expression
from podium.payloads import NotJSON, parse_json

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_REDACTED = "***"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def expand_uri_template(template: str, data: Any, where: str) -> str:
    """RFC 6570 simple string expansion from the top-level properties of ``data``
    (dsl-reference "URI Template"): missing values expand to an empty string."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        found = data.get(name) if isinstance(data, dict) else None
        if found is None:
            return ""
        if isinstance(found, bool):
            return "true" if found else "false"
        if isinstance(found, str | int | float):
            return quote(str(found), safe="")
        raise WorkflowError.expression(
            f"URI template variable '{name}' must be a string, number, boolean or null, "
            f"not {type(found).__name__}",
            where,
        )

    return _PLACEHOLDER.sub(value, template)


async def resolve_uri(endpoint: str | m.EndpointConfig, run: TaskRun) -> str:
    uri = endpoint if isinstance(endpoint, str) else endpoint.uri
    if is_expression(uri):
        result = await run.template(uri)
        if not isinstance(result, str):
            raise WorkflowError.expression(
                f"the endpoint expression gave {type(result).__name__}, not a URI string",
                run.reference,
            )
        return result
    return expand_uri_template(uri, run.input, run.reference)


def decode_content(response: httpx.Response, where: str | None = None) -> Any:
    """JSON is parsed, text stays text, anything else is base64 (dsl-reference
    "HTTP Response", `content`). A body labelled JSON that is not strict JSON
    (``NaN`` included) stays text; one nested beyond the depth limit faults."""
    if not response.content:
        return None
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return parse_json(response.content, f"the response of {response.request.method} "
                              f"{response.request.url}", where)
        except NotJSON:
            return response.text
    if media.startswith("text/") or media in ("application/xml", "application/yaml") or (
        media.endswith("+xml")
    ):
        return response.text
    return base64.b64encode(response.content).decode()


def _string_map(value: Any, what: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WorkflowError.expression(f"'{what}' must give an object, not "
                                       f"{type(value).__name__}", where)
    return {str(k): _scalar_text(v) for k, v in value.items() if v is not None}


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _query(value: Any, where: str) -> list[tuple[str, str | int | float | bool | None]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise WorkflowError.expression(f"'query' must give an object, not "
                                       f"{type(value).__name__}", where)
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for key, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            if one is not None:
                pairs.append((str(key), _scalar_text(one)))
    return pairs


def request_descriptor(request: httpx.Request) -> dict[str, Any]:
    """dsl-reference "HTTP Request", with credentials redacted."""
    headers = {
        k: (_REDACTED if k.lower() in _SENSITIVE_HEADERS else v)
        for k, v in request.headers.items()
    }
    return {"method": request.method.lower(), "uri": str(request.url), "headers": headers}


async def execute(task: m.CallHTTP, run: TaskRun) -> Any:
    return await send(task.with_, run)


@dataclass
class HttpRequest:
    """A request whose values are final: nothing in it is evaluated again."""

    method: str
    uri: str
    headers: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str | int | float | bool | None]] = field(default_factory=list)
    body: Any = None
    authentication: m.ReferenceableAuthenticationPolicy | None = None
    output: str = "content"
    redirect: bool = False


async def send(args: m.HTTPArguments, run: TaskRun) -> Any:
    """Evaluate ``call: http``'s arguments against the task input, then perform."""
    where = run.reference
    endpoint = args.endpoint
    return await perform(
        HttpRequest(
            method=str(await run.template(args.method)),
            uri=await resolve_uri(endpoint, run),
            headers=_string_map(await run.template(args.headers), "headers", where),
            params=_query(await run.template(args.query), where),
            body=await run.template(args.body),
            authentication=endpoint.authentication
            if isinstance(endpoint, m.EndpointConfig) else None,
            output=args.output,
            redirect=args.redirect,
        ),
        run,
    )


async def perform(spec: HttpRequest, run: TaskRun) -> Any:
    """Send a request built by a protocol (http, openapi): authentication, the
    idempotency key, the redirect rules, errors and the output format."""
    where = run.reference
    method, uri, headers, params, body = (
        spec.method.upper(), spec.uri, dict(spec.headers), spec.params, spec.body
    )

    flow: httpx.Auth | None = None
    if spec.authentication is not None:
        authorization = await authorize(spec.authentication, run)
        run.authorization = authorization.descriptor()
        flow = authorization.flow  # digest: answers the server's challenge while sending
        if flow is None:
            headers["Authorization"] = authorization.header

    if run.instance.journal.enabled and not any(k.lower() == IDEMPOTENCY_HEADER.lower()
                                                for k in headers):
        # A call in flight when a process died runs again after recovery
        # (at-least-once); the key lets the service recognise the repeat.
        headers[IDEMPOTENCY_HEADER] = f"{run.instance.id}:{run.position}"

    content: bytes | str | None = None
    data: dict[str, str] | None = None
    if body is not None:
        media = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if isinstance(body, str | bytes) and not media.endswith("json"):
            content = body
        elif "x-www-form-urlencoded" in media and isinstance(body, dict):
            data = {str(k): _scalar_text(v) for k, v in body.items()}
        else:
            content = json.dumps(body)
            if not media:
                headers["Content-Type"] = "application/json"

    client = run.instance.services.http
    try:
        # `query` adds to the endpoint's own query string (httpx's `params` would
        # replace it).
        url = httpx.URL(uri).copy_merge_params(params) if params else uri
        request = client.build_request(method, url, headers=headers, content=content, data=data)
        response = await client.send(request, auth=flow, follow_redirects=spec.redirect)
    except httpx.InvalidURL as exc:
        raise WorkflowError.configuration(f"invalid endpoint '{uri}': {exc}", where) from None
    except httpx.UnsupportedProtocol as exc:
        raise WorkflowError.configuration(f"invalid endpoint '{uri}': {exc}", where) from None
    except httpx.TimeoutException as exc:
        raise WorkflowError.communication(
            f"{method} {uri} timed out: {type(exc).__name__}", status=500,
            title="Request Timeout", instance=where,
        ) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise WorkflowError.communication(
            f"{method} {uri} failed: {reason}", status=500, title="Network Error",
            instance=where,
        ) from None

    highest = 399 if spec.redirect else 299
    if not 200 <= response.status_code <= highest:
        excerpt = response.text[:500] if response.content else ""
        raise WorkflowError.communication(
            f"{method} {uri} answered {response.status_code} {response.reason_phrase}"
            + (f": {excerpt}" if excerpt else ""),
            status=response.status_code,
            title=response.reason_phrase or None,
            instance=where,
        )

    if spec.output == "raw":
        return base64.b64encode(response.content).decode() if response.content else None
    decoded = decode_content(response, where)
    if spec.output == "response":
        return {
            "request": request_descriptor(response.request),
            "statusCode": response.status_code,
            "headers": dict(response.headers.items()),
            "content": decoded,
        }
    return decoded
