"""The dashboard of ``podium serve``: server-rendered pages (Jinja2) over the same
store and operations as the API, with a little JavaScript for live updates.

Pages: ``/`` (overview), ``/instances`` (the list, with the faulted ones as a
tab), ``/instances/{id}`` (status, graph, timeline, journal, actions),
``/definitions`` and ``/definitions/{namespace}/{name}[/{version}]``.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from podium import Runtime
from podium.server.dashboard import actions, pages
from podium.server.dashboard._web import (
    STATIC,
    Caller,
    Forbidden,
    LoginRequired,
    SecurityHeaders,
    environment,
    redirect,
    render,
    sessions_of,
)
from podium.server.operations import Operations
from podium.server.security import VIEWER
from podium.server.sessions import Sessions


def mount_dashboard(app: FastAPI, runtime: Runtime) -> None:
    """Serve the dashboard from ``app`` (its pages, forms and static files)."""
    operations = Operations(runtime)
    app.state.podium_sessions = Sessions()
    app.state.podium_templates = environment()
    app.include_router(pages.router(operations))
    app.include_router(actions.router(operations))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return redirect(request, f"/login?next={quote(exc.target)}")

    async def forbidden(request: Request, exc: Exception) -> Response:
        nobody = sessions_of(request).new(None)
        return render(request, Caller(VIEWER, "", nobody), "error.html", 403,
                      message=str(exc), nav="")

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_middleware(SecurityHeaders)


__all__ = ["mount_dashboard"]
