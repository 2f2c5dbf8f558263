"""What ``podium serve`` adds for telemetry (``podium.telemetry``): ``GET /metrics``
(the Prometheus exposition of its runtime) and the trace context of requests.

``/metrics`` is read like the API: open when no token is configured, else any
token (a ``viewer`` one is enough: configure Prometheus with
``authorization: {credentials: <token>}``); a request without one is a 401
problem. The ``traceparent`` header of a request (W3C trace context) is what
the instances it creates continue (``podium.tracecontext``): a start through
the API joins the caller's trace.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Receive, Scope, Send

from podium import Runtime, tracecontext
from podium.server.security import authorize
from podium.telemetry import Telemetry


def install_telemetry(app: FastAPI, runtime: Runtime) -> None:
    """Serve ``/metrics`` of the runtime's telemetry (attached now if it has none)
    and carry requests' trace context into the instances they start."""
    telemetry = Telemetry.of(runtime)

    async def metrics(request: Request) -> Response:
        authorize(request.app.state.podium_settings.tokens, request)
        return Response(await telemetry.scrape(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_middleware(TraceContext)


class TraceContext:
    """ASGI middleware: the request's ``traceparent`` header, while it is handled,
    is the trace context instances created by it continue."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = None
        if scope["type"] == "http":
            header = next((value for name, value in scope.get("headers", [])
                           if name == b"traceparent"), None)
        if header is None:
            await self.app(scope, receive, send)
            return
        with tracecontext.incoming(header.decode("latin-1")):
            await self.app(scope, receive, send)
