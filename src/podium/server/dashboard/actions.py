"""The dashboard's forms (POST): signing in and out, and the operator's actions
on instances, one or many. Every action goes through ``server.operations``,
like the API's, naming the caller (``dashboard:<role>:<hash>``) in the
instance's history; each answers with a redirect and a message."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from podium.server.dashboard._web import (
    Caller,
    acting,
    field,
    form_of,
    redirect,
    render,
    sessions_of,
    set_session,
    tokens_of,
)
from podium.server.dashboard.listing import BULK_LIMIT, every, listing
from podium.server.operations import Operations
from podium.server.problems import ApiProblem
from podium.server.security import session_caller
from podium.server.sessions import COOKIE
from podium.store import CANCEL, RESUME, RETRY, SUSPEND

ACTIONS = (CANCEL, SUSPEND, RESUME, RETRY)


def _local(target: str | None, default: str = "/") -> str:
    """A path of this dashboard to go back to (never another site)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default


def router(operations: Operations) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    async def act(instance_id: str, action: str, by: str) -> str:
        """Do ``action`` to one instance; what happened, in words."""
        record = await operations.act(action, instance_id, by)
        return f"{instance_id} is {record.status}"

    @routes.post("/instances/{instance_id}/rerun", response_model=None)
    async def rerun(request: Request, instance_id: str) -> Response:
        who, form = await acting(request)
        start = (form.get("from") or [""])[0].strip()
        page = f"/instances/{instance_id}"
        if not start:
            return redirect(request, page, "re-run: pick the task to re-run from", "error")
        try:
            record, _ = await operations.rerun(instance_id, start, who.identity)
        except ApiProblem as problem:
            return redirect(request, page, f"re-run: {problem.detail}", "error")
        return redirect(request, f"/instances/{record.id}",
                        f"Re-run of {instance_id} from {start} started as {record.id}", "success")

    @routes.post("/instances/{instance_id}/{action}", response_model=None)
    async def instance_action(request: Request, instance_id: str, action: str) -> Response:
        who, _ = await acting(request)
        page = f"/instances/{instance_id}"
        if action not in ACTIONS:
            return redirect(request, page, f"unknown action {action!r}", "error")
        try:
            done = await act(instance_id, action, who.identity)
        except ApiProblem as problem:
            return redirect(request, page, f"{action}: {problem.detail}", "error")
        return redirect(request, page, f"{action.capitalize()} requested: {done}", "success")

    @routes.post("/instances", response_model=None)
    async def bulk(request: Request) -> Response:
        """An action on the instances ticked in the list, or (``all``) on every
        instance the list's filters select."""
        who, form = await acting(request)
        back = _local(field(form, "back"), "/instances")
        everything = field(form, "all")
        action = everything or field(form, "action") or ""
        if action not in ACTIONS:
            return redirect(request, back, f"unknown action {action!r}", "error")
        if everything:
            chosen = every(listing({name: values[0] for name, values in form.items()}),
                           BULK_LIMIT)
            outcome = await operations.bulk(action, chosen, who.identity)
            done, matched = len(outcome.done), outcome.matched
            refused = [problem.detail for _, problem in outcome.failed]
        else:
            ids = list(dict.fromkeys(form.get("id", [])))[:BULK_LIMIT]
            if not ids:
                return redirect(request, back, "Tick the instances to act on first", "error")
            done, matched, refused = 0, len(ids), []
            for instance_id in ids:
                try:
                    await act(instance_id, action, who.identity)
                    done += 1
                except ApiProblem as problem:
                    refused.append(problem.detail)
        message = f"{action.capitalize()}: {done} of {matched} instance(s)"
        if refused:
            message += f"; refused: {refused[0]}" + (
                f" (and {len(refused) - 1} more)" if len(refused) > 1 else "")
        return redirect(request, back, message, "error" if refused else "success")

    # signing in --------------------------------------------------------------------------

    @routes.get("/login", response_class=HTMLResponse, response_model=None)
    async def login_page(request: Request, next: str = "/") -> Response:
        if not tokens_of(request):
            return redirect(request, "/")
        sessions = sessions_of(request)
        session = sessions.decode(request.cookies.get(COOKIE))
        if session_caller(tokens_of(request), session) is not None:
            return redirect(request, _local(next))
        # A session before signing in, so that the sign-in form has a CSRF token too.
        anonymous = sessions.new(None)
        who = Caller("anonymous", "", anonymous, sessions.encode(anonymous))
        return render(request, who, "login.html", target=_local(next), failed=False)

    @routes.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await form_of(request)
        sessions = sessions_of(request)
        tokens = tokens_of(request)
        before = sessions.decode(request.cookies.get(COOKIE))
        target = _local((form.get("next") or ["/"])[0])
        if not sessions.csrf_ok(before, field(form, "csrf")):
            return redirect(request, f"/login?next={quote(target)}",
                            "The sign-in form expired: try again", "error")
        token = (form.get("token") or [""])[0].strip()
        session = sessions.new(token) if token else None
        if session is None or session_caller(tokens, session) is None:
            return redirect(request, f"/login?next={quote(target)}", "That token is not known",
                            "error")
        response = redirect(request, target)
        set_session(request, response, sessions.encode(session))
        return response

    @routes.post("/logout", response_model=None)
    async def logout(request: Request) -> Response:
        await acting(request, operator=False)
        response = redirect(request, "/login" if tokens_of(request) else "/", "Signed out")
        response.delete_cookie(COOKIE, path="/")
        return response

    return routes
