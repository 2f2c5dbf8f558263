"""The routes of ``/api/v1``: definitions, instances, their control, events and
health, over one ``Runtime`` (its store and its dispatcher)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel, Field

from podium import Runtime
from podium._version import __version__
from podium.engine.secret_refs import displayed
from podium.events.cloudevents import InvalidEvent, parse_http
from podium.events.ingest import ingest
from podium.records import definition_json, entry_json, waiting_for_json
from podium.server.operations import Operations, shown
from podium.server.problems import ApiProblem, BodyLimit, install
from podium.server.security import authorize
from podium.server.telemetry import install_telemetry
from podium.store import (
    CANCEL,
    ENDED,
    RESUME,
    SUSPEND,
    InstanceQuery,
)
from podium.store._sqlstore import redact

log = logging.getLogger("podium.server")

MAX_BODY = 10 * 1024 * 1024

Status = Literal["pending", "running", "waiting", "suspended", "completed", "faulted", "cancelled"]


@dataclass(frozen=True)
class ServerSettings:
    """What ``podium serve`` was told: the tokens (``{token: role}``; empty: open),
    the request body limit, the store's URL (shown without its password)."""

    store_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    max_body: int = MAX_BODY


class StartRequest(BaseModel):
    workflow: str = Field(description="namespace/name[:version] of a deployed definition")
    input: Any = None
    key: str | None = Field(default=None, description="idempotency key")


def _document_text(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, f"the body is not UTF-8 text ({exc.reason})",
                         "invalid-workflow") from None
    # A document has a line end: one-line text could otherwise be taken for a
    # path by the loader and read from the server's disk.
    return text if "\n" in text else text + "\n"


async def _caller(request: Request) -> str:
    """The caller's identity for the audit trail, once the token allows the request."""
    settings: ServerSettings = request.app.state.podium_settings
    return authorize(settings.tokens, request)


Caller = Annotated[str, Depends(_caller)]


def _router(runtime: Runtime, settings: ServerSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(_caller)])
    operations = Operations(runtime)
    store = operations.store
    found = operations.found

    @router.get("/health")
    async def health() -> dict[str, Any]:
        await store.list_definitions()  # a store failing answers 503
        return {"status": "ok", "version": __version__, "store": redact(settings.store_url)}

    # definitions ---------------------------------------------------------------------

    @router.post("/definitions", status_code=201)
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

    @router.get("/definitions/{namespace}/{name}/{version}")
    async def definition_version(namespace: str, name: str, version: str) -> dict[str, Any]:
        record = await store.get_definition(namespace, name, version)
        if record is None:
            raise ApiProblem(404, f"no definition {namespace}/{name}:{version}",
                             "definition-not-found")
        return {**definition_json(record), "document": record.document,
                "source": record.source}

    # instances -----------------------------------------------------------------------

    @router.post("/instances", status_code=201)
    async def start(
        body: StartRequest, response: Response,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        key = body.key if body.key is not None else idempotency_key
        record, created = await operations.start(body.workflow, body.input, key)
        if not created:
            response.status_code = 200
        return shown(record)

    @router.get("/instances")
    async def instances(status: Status | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000:
            raise ApiProblem(422, "limit: between 1 and 1000", "invalid-request",
                             field="query.limit")
        listed = await store.list_instances(InstanceQuery(status=status, limit=limit))
        return [shown(record) for record in listed]

    @router.get("/instances/{instance_id}")
    async def instance(instance_id: str) -> dict[str, Any]:
        record = await found(instance_id)
        body = shown(record)
        if record.status not in ENDED:
            listening = await store.get_subscriptions(instance_id)
            if listening:
                body["waitingFor"] = waiting_for_json(listening)
        return body

    @router.get("/instances/{instance_id}/history")
    async def history(instance_id: str) -> list[dict[str, Any]]:
        await found(instance_id)
        # Secret references show as ***: a history view never resolves them.
        return [entry_json(replace(entry, data=displayed(entry.data)))
                for entry in await store.read_journal(instance_id)]

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
        return shown(await operations.retry(instance_id, by))

    # events --------------------------------------------------------------------------

    @router.post("/events", status_code=202)
    async def events(request: Request) -> dict[str, Any]:
        try:
            parsed = parse_http(request.headers, await request.body())
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
    install(app, settings.store_url)
    app.include_router(_router(runtime, settings))
    install_telemetry(app, runtime)  # /metrics, and requests' trace context
    app.add_middleware(BodyLimit, limit=settings.max_body)
    return app
