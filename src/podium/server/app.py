"""The routes of ``/api/v1``: definitions, instances, their control, events and
health, over one ``Runtime`` (its store and its dispatcher)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel, Field

from podium import Runtime
from podium._version import __version__
from podium.dsl.graph import build_graph
from podium.events.cloudevents import InvalidEvent, parse_http
from podium.events.ingest import ingest
from podium.records import definition_json, waiting_for_json
from podium.server.dashboard import mount_dashboard
from podium.server.filters import NO_NUL, WORKFLOW_PATTERN
from podium.server.instances import instance_routes
from podium.server.operations import Operations, nul_at, shown
from podium.server.problems import PROBLEM_RESPONSES, ApiProblem, BodyLimit, install
from podium.server.security import authorize
from podium.server.streams import StreamSettings, stream_routes
from podium.server.telemetry import install_telemetry
from podium.store import (
    CANCEL,
    ENDED,
    RESUME,
    SUSPEND,
)
from podium.store._sqlstore import redact

log = logging.getLogger("podium.server")

MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """What ``podium serve`` was told: the tokens (``{token: role}``; empty: open),
    the request body limit, the store's URL (shown without its password), how
    often live streams poll the store and ping their clients and how far back
    they look for late commits (seconds; see ``streams.StreamSettings``)."""

    store_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    max_body: int = MAX_BODY
    stream_poll: float = 0.5
    stream_ping: float = 15.0
    stream_lookback: float = 2.0


class StartRequest(BaseModel):
    workflow: str = Field(description="namespace/name[:version] of a deployed definition",
                          pattern=WORKFLOW_PATTERN)
    input: Any = None
    key: str | None = Field(default=None, description="idempotency key", pattern=NO_NUL)


class RerunRequest(BaseModel):
    from_: str = Field(alias="from", min_length=1,
                       description="the task to re-run from: a journal position or a task "
                                   "reference such as /do/2/charge")
    key: str | None = Field(default=None, description="idempotency key of the new instance")


def _document_text(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, f"the body is not UTF-8 text ({exc.reason})",
                         "invalid-workflow") from None
    # A document has a line end: one-line text could otherwise be taken for a
    # path by the loader and read from the server's disk.
    return text if "\n" in text else text + "\n"


# Bodies these routes read themselves: a workflow document (checked against the
# DSL, with line numbers) and CloudEvents (checked against CloudEvents 1.0; binary
# mode carries the attributes in ce-* headers instead).
_DOCUMENT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}},
}}}
_CLOUDEVENT = {"type": "object", "required": ["specversion", "id", "source", "type"],
               "properties": {"specversion": {"const": "1.0"}, "id": {"type": "string"},
                              "source": {"type": "string"}, "type": {"type": "string"}}}
_EVENTS_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/cloudevents+json": {"schema": _CLOUDEVENT},
    "application/cloudevents-batch+json": {"schema": {"type": "array", "items": _CLOUDEVENT}},
}}}


async def _caller(request: Request) -> str:
    """The caller's identity for the audit trail, once the token allows the request."""
    settings: ServerSettings = request.app.state.podium_settings
    return authorize(settings.tokens, request)


Caller = Annotated[str, Depends(_caller)]


async def _named(request: Request) -> None:
    """No name or id in a path holds NUL (which PostgreSQL cannot even look up)."""
    if any("\x00" in str(value) for value in request.path_params.values()):
        raise ApiProblem(404, "no such resource: a name with NUL", "not-found")


def _router(runtime: Runtime, settings: ServerSettings, streams: StreamSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(_caller), Depends(_named)],
                       responses=PROBLEM_RESPONSES)
    operations = Operations(runtime)
    store = operations.store
    found = operations.found

    @router.get("/health")
    async def health() -> dict[str, Any]:
        await store.list_definitions()  # a store failing answers 503
        return {"status": "ok", "version": __version__, "store": redact(settings.store_url)}

    # definitions ---------------------------------------------------------------------

    @router.post("/definitions", status_code=201, openapi_extra=_DOCUMENT_BODY)
    async def deploy(request: Request, response: Response) -> dict[str, Any]:
        record, new = await operations.deploy(_document_text(await request.body()), "request")
        if not new:
            response.status_code = 200
        return {**definition_json(record), "status": "deployed" if new else "unchanged"}

    @router.get("/definitions")
    async def definitions() -> list[dict[str, Any]]:
        return [definition_json(record) for record in await store.list_definitions()]

    @router.get("/definitions/{namespace}/{name}")
    async def definition(namespace: str, name: str) -> dict[str, Any]:
        records = [r for r in await store.list_definitions()
                   if (r.namespace, r.name) == (namespace, name)]
        latest = await store.get_definition(namespace, name)
        if not records or latest is None:
            raise ApiProblem(404, f"no definition {namespace}/{name}", "definition-not-found")
        return {"namespace": namespace, "name": name,
                "versions": [definition_json(r) for r in records],
                "latest": {**definition_json(latest), "document": latest.document,
                           "source": latest.source}}

    @router.get("/definitions/{namespace}/{name}/{version}/graph")
    async def definition_graph(namespace: str, name: str, version: str) -> dict[str, Any]:
        """The tasks of a definition as nodes (id: the task's JSON pointer, parent:
        the composite around it) and how control passes between them as edges."""
        record = await store.get_definition(namespace, name, version)
        if record is None:
            raise ApiProblem(404, f"no definition {namespace}/{name}:{version}",
                             "definition-not-found")
        return build_graph(record.document).to_json()

    @router.get("/definitions/{namespace}/{name}/{version}")
    async def definition_version(namespace: str, name: str, version: str) -> dict[str, Any]:
        record = await store.get_definition(namespace, name, version)
        if record is None:
            raise ApiProblem(404, f"no definition {namespace}/{name}:{version}",
                             "definition-not-found")
        return {**definition_json(record), "document": record.document,
                "source": record.source}

    # instances -----------------------------------------------------------------------

    # First: /instances/stream and /instances/bulk/... before /instances/{instance_id}.
    router.include_router(stream_routes(operations, streams))
    router.include_router(instance_routes(operations, _caller))

    @router.post("/instances", status_code=201)
    async def start(
        body: StartRequest, response: Response,
        idempotency_key: Annotated[str | None, Header(pattern=NO_NUL)] = None,
    ) -> dict[str, Any]:
        key = body.key if body.key is not None else idempotency_key
        record, created = await operations.start(body.workflow, body.input, key)
        if not created:
            response.status_code = 200
        return shown(record)

    @router.get("/instances/{instance_id}")
    async def instance(instance_id: str) -> dict[str, Any]:
        record = await found(instance_id)
        body = shown(record)
        if record.status not in ENDED:
            listening = await store.get_subscriptions(instance_id)
            if listening:
                body["waitingFor"] = waiting_for_json(listening)
        return body

    @router.post("/instances/{instance_id}/cancel")
    async def cancel(instance_id: str, by: Caller) -> dict[str, Any]:
        return shown(await operations.control(instance_id, CANCEL, by))

    @router.post("/instances/{instance_id}/suspend")
    async def suspend(instance_id: str, by: Caller) -> dict[str, Any]:
        return shown(await operations.control(instance_id, SUSPEND, by))

    @router.post("/instances/{instance_id}/resume")
    async def resume(instance_id: str, by: Caller) -> dict[str, Any]:
        return shown(await operations.control(instance_id, RESUME, by))

    @router.post("/instances/{instance_id}/retry")
    async def retry(instance_id: str, by: Caller) -> dict[str, Any]:
        """Run a faulted instance again from the task that faulted: the same
        instance, its journal kept (what completed is not run again)."""
        return shown(await operations.retry(instance_id, by))

    @router.post("/instances/{instance_id}/rerun", status_code=201)
    async def rerun(
        instance_id: str, body: RerunRequest, by: Caller, response: Response,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Start a new instance that replays this one's history up to a task and
        executes from there (this one is untouched)."""
        key = body.key if body.key is not None else idempotency_key
        record, created = await operations.rerun(instance_id, body.from_, by, key)
        if not created:
            response.status_code = 200
        return shown(record)

    # events --------------------------------------------------------------------------

    @router.post("/events", status_code=202, openapi_extra=_EVENTS_BODY)
    async def events(request: Request) -> dict[str, Any]:
        try:
            parsed = parse_http(request.headers, await request.body())
            for number, event in enumerate(parsed, start=1):
                where = nul_at(event)
                if where is not None:
                    raise InvalidEvent(f"event {number}: {where}: text with NUL (U+0000) "
                                       "cannot be stored")
            result = await ingest(store, parsed, "http", notify=runtime.dispatcher.notify)
        except InvalidEvent as exc:
            raise ApiProblem(400, str(exc), "invalid-event") from None
        return {"stored": [record.id for record in result.stored],
                "duplicates": [event.get("id") for event in result.duplicates]}

    return router


def create_app(runtime: Runtime, settings: ServerSettings) -> FastAPI:
    """The API over ``runtime`` (opened over a store, kept open by the caller)."""
    app = FastAPI(
        title="Podium", version=__version__,
        openapi_url="/api/v1/openapi.json", docs_url="/api/docs", redoc_url=None,
    )
    app.state.podium_settings = settings
    streams = StreamSettings(poll=settings.stream_poll, ping=settings.stream_ping,
                             lookback=timedelta(seconds=settings.stream_lookback))
    app.state.podium_streams = streams
    install(app, settings.store_url)
    app.include_router(_router(runtime, settings, streams))
    mount_dashboard(app, runtime)
    install_telemetry(app, runtime)  # /metrics, and requests' trace context
    app.add_middleware(BodyLimit, limit=settings.max_body)
    return app


def stop_streams(app: FastAPI) -> None:
    """End the app's live streams (the server is stopping: it waits for open
    responses, and a stream would never end by itself)."""
    streams: StreamSettings = app.state.podium_streams
    streams.stopping.set()
