"""What every dashboard page shares: the templates (Jinja2, autoescaped), who is
asking (a session; signing in when tokens are configured), the CSRF check of
forms, flash messages, and the security headers of every page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.dsl.graph import summarize
from podium.engine.lifecycle import utc_iso
from podium.server.security import OPERATOR, session_caller
from podium.server.sessions import COOKIE, Session, Sessions
from podium.store import ScheduleRecord
from podium.worker import took

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parents[1] / "static"
FLASH = "podium_flash"

# Scripts and styles only from this server: data in a page can never run.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware adding the dashboard's headers to every response outside
    ``/api`` (whose documentation page loads its own scripts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, headed)


# templates ---------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (datetime.now(UTC) - value).total_seconds()
    if seconds < 0:
        return f"in {took(-seconds)}"
    if seconds < 1:
        return "just now"
    return " ".join(took(seconds).split()[:2]) + " ago"  # "3 min ago", not "3 min 5 s ago"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _fit(text: Any, chars: int) -> str:
    shown = "" if text is None else str(text)
    return shown if len(shown) <= chars else shown[: max(chars - 1, 1)] + "…"


def _seconds(value: float | None) -> str:
    return "\N{EN DASH}" if value is None else took(value)


def _schedule_text(schedule: ScheduleRecord) -> str:
    """A schedule's rule in a few words: a cron expression, a duration, events."""
    value = schedule.spec.get(schedule.kind)
    if schedule.kind in ("every", "after"):
        return summarize("wait", {"wait": value})
    if schedule.kind == "on":
        return summarize("listen", {"listen": {"to": value}})
    return str(value)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # workflow data is untrusted: everything is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, ago=_ago, pretty=_pretty, fit=_fit, took=_seconds,
                       iso=lambda v: utc_iso(v) if v else "",
                       urlquote=lambda v: quote(str(v), safe=""))
    env.globals["schedule_text"] = _schedule_text
    return env


# callers -----------------------------------------------------------------------------------


class LoginRequired(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class Forbidden(Exception):
    """A dashboard request refused (a form without its CSRF token, a viewer acting)."""


@dataclass
class Caller:
    role: str
    identity: str
    session: Session
    cookie: str | None = None  # a new session's cookie, set on the response

    @property
    def operator(self) -> bool:
        return self.role == OPERATOR


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.podium_sessions
    return sessions


def tokens_of(request: Request) -> dict[str, str]:
    tokens: dict[str, str] = request.app.state.podium_settings.tokens
    return tokens


def caller(request: Request) -> Caller:
    """Who is asking: the session's caller, a new open session without tokens, or
    ``LoginRequired``."""
    sessions = sessions_of(request)
    tokens = tokens_of(request)
    session = sessions.decode(request.cookies.get(COOKIE))
    found = session_caller(tokens, session)
    if found is not None and session is not None:
        return Caller(found[0], found[1], session)
    if tokens:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    session = sessions.new(None)
    role, who = session_caller(tokens, session) or (OPERATOR, "dashboard:open")
    return Caller(role, who, session, sessions.encode(session))


async def form_of(request: Request) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {}
    text = (await request.body()).decode("utf-8", "replace")
    for name, value in parse_qsl(text, keep_blank_values=True):
        form.setdefault(name, []).append(value)
    return form


def field(form: dict[str, list[str]], name: str) -> str | None:
    """The first value of a form field, if sent."""
    values = form.get(name)
    return values[0] if values else None


def same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when it sends one) names this server."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def acting(request: Request, *, operator: bool = True) -> tuple[Caller, dict[str, list[str]]]:
    """The caller of a form's POST with its fields, once its CSRF token is the
    session's (and, for ``operator``, the caller may act); else ``Forbidden``."""
    form = await form_of(request)
    sessions = sessions_of(request)
    session = sessions.decode(request.cookies.get(COOKIE))
    presented = field(form, "csrf")
    if not same_origin(request) or not sessions.csrf_ok(session, presented):
        raise Forbidden("the form is not from this dashboard session (CSRF token missing or "
                        "wrong): reload the page and try again")
    found = session_caller(tokens_of(request), session)
    if found is None or session is None:
        referer = urlsplit(request.headers.get("referer") or "/")
        raise LoginRequired(referer.path + (f"?{referer.query}" if referer.query else ""))
    who = Caller(found[0], found[1], session)
    if operator and not who.operator:
        raise Forbidden(f"the role {who.role} may only look; acting needs an operator token")
    return who, form


# responses ---------------------------------------------------------------------------------


def render(request: Request, who: Caller, name: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.podium_templates
    sessions = sessions_of(request)
    flash = sessions.unsign(request.cookies.get(FLASH))
    context.setdefault("nav", "")
    body = env.get_template(name).render(
        request=request, caller=who, csrf=sessions.csrf(who.session),
        signed_in=bool(tokens_of(request)), flash=json.loads(flash) if flash else None,
        path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status)
    response.headers["cache-control"] = "no-store"
    if who.cookie is not None:
        set_session(request, response, who.cookie)
    if flash:
        response.delete_cookie(FLASH, path="/")
    return response


def set_session(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(COOKIE, cookie, max_age=sessions_of(request).lifetime, path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")


def redirect(request: Request, target: str, message: str | None = None,
             level: str = "info") -> RedirectResponse:
    """303 to ``target`` (a path of this dashboard), with a message for the next page."""
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if message is not None:
        signed = sessions_of(request).sign(json.dumps({"level": level, "text": message}))
        response.set_cookie(FLASH, signed, path="/", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
    return response
