"""Every error of the API as an RFC 7807 problem (``application/problem+json``:
type, title, status, detail, instance), and never a traceback: clients parse
one shape whatever went wrong, and nothing of the server's insides leaks."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.store import StoreError
from podium.store._sqlstore import redact

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://podium.dev/problems/"

log = logging.getLogger("podium.server")

_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content",
    500: "Internal Server Error", 503: "Service Unavailable",
}


# Every route may answer a problem: documented once, as the default response.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {"default": {
    "description": "a problem (RFC 7807): 400, 401, 403, 404, 409, 413, 422, 503",
    "content": {MEDIA_TYPE: {"schema": {
        "type": "object",
        "required": ["type", "title", "status", "detail", "instance"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"},
            "status": {"type": "integer"}, "detail": {"type": "string"},
            "instance": {"type": "string"},
            "field": {"type": "string", "description": "the request part at fault"},
        },
    }}},
}}


class ApiProblem(Exception):
    """Raised by a route: answered as a problem with this status and detail;
    ``extra`` members (``problems``, ``field``) are added to the body."""

    def __init__(self, status: int, detail: str, kind: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.extra = extra


def problem_body(status: int, detail: str, instance: str, kind: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    title = _TITLES.get(status, "Error")
    name = kind or title.lower().replace(" ", "-")
    return {"type": TYPE_BASE + name, "title": title, "status": status, "detail": detail,
            "instance": instance, **extra}


def problem_response(status: int, detail: str, instance: str, kind: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, instance, kind, **extra), status_code=status,
                        media_type=MEDIA_TYPE, headers=headers)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    """``body.input`` from FastAPI's ``("body", "input")``."""
    return ".".join(str(part) for part in location)


def _allowed(request: Request) -> str:
    """The methods the OpenAPI document gives this path: Starlette's 405 names only
    those of the first route it found (GET and POST of one path are two routes).
    A literal path (``/instances/purge``) is its own resource, not an id of
    ``/instances/{id}``: the templates with the fewest parameters count."""
    path = request.scope.get("path", "")
    found: list[tuple[int, list[str]]] = []
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            found.append((template.count("{"), [m.upper() for m in operations]))
    fewest = min((count for count, _ in found), default=0)
    allowed = dict.fromkeys(m for count, methods in found if count == fewest for m in methods)
    return ", ".join(sorted(allowed))


def install(app: FastAPI, store_url: str) -> None:
    """Map every exception a request can raise to a problem response."""

    async def api_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.detail, request.url.path, exc.kind, headers,
                                **exc.extra)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": _field(error.get("loc", ())), "message": str(error.get("msg"))}
                  for error in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return problem_response(422, f"{first['field']}: {first['message']}", request.url.path,
                                "invalid-request", field=first["field"], errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request)
        return problem_response(exc.status_code, detail, request.url.path, headers=headers)

    async def store_failing(request: Request, exc: Exception) -> JSONResponse:
        log.warning("store error on %s %s: %s", request.method, request.url.path,
                    " ".join(str(exc).split()))
        return problem_response(503, f"the store {redact(store_url)} cannot be used now",
                                request.url.path, "store-unavailable")

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal error (the server's log says more)",
                                request.url.path, "internal-error")

    app.add_exception_handler(ApiProblem, api_problem)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(StoreError, store_failing)
    app.add_exception_handler(Exception, internal)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware answering 413 to a body over ``limit`` bytes, whether its
    ``Content-Length`` says so or it streams past the limit (chunked), before a
    route reads it all into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._refuse(path, send)
                    return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(path, send)

    async def _refuse(self, path: str, send: Send) -> None:
        response = problem_response(
            413, f"the request body is larger than the limit of {self.limit:,} bytes", path,
            "body-too-large")
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
