"""The routes of ``/api/v1``: definitions, instances, their control, events and
health, over one ``Runtime`` (its store and its dispatcher)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import BaseModel, Field

from podium import InvalidWorkflowError, Runtime, WorkflowError, load
from podium._version import __version__
from podium.engine.secret_refs import displayed
from podium.events.cloudevents import InvalidEvent, parse_http
from podium.events.ingest import ingest
from podium.records import definition_json, entry_json, instance_json, waiting_for_json
from podium.registry import WorkflowName
from podium.server.problems import ApiProblem, BodyLimit, install
from podium.server.security import authorize
from podium.store import (
    CANCEL,
    CANCELLED,
    ENDED,
    RESUME,
    RETRY,
    SUSPEND,
    SUSPENDED,
    DefinitionConflict,
    InstanceQuery,
    InstanceRecord,
    Store,
    quarantined,
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


def _store(runtime: Runtime) -> Store:
    assert runtime.store is not None, "podium serve runs over a store"
    return runtime.store


def _shown(record: InstanceRecord) -> dict[str, Any]:
    # An input is stored like journaled data: secret references show as ***.
    return instance_json(replace(record, input=displayed(record.input)))


def _document_text(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, f"the body is not UTF-8 text ({exc.reason})",
                         "invalid-workflow") from None
    # A document has a line end: one-line text could otherwise be taken for a
    # path by the loader and read from the server's disk.
    return text if "\n" in text else text + "\n"


def _invalid(exc: InvalidWorkflowError) -> ApiProblem:
    return ApiProblem(
        400, f"the workflow is invalid: {len(exc.problems)} problem(s)", "invalid-workflow",
        problems=[str(problem) for problem in exc.problems])


async def _caller(request: Request) -> str:
    """The caller's identity for the audit trail, once the token allows the request."""
    settings: ServerSettings = request.app.state.podium_settings
    return authorize(settings.tokens, request)


Caller = Annotated[str, Depends(_caller)]


def _router(runtime: Runtime, settings: ServerSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(_caller)])
    store = _store(runtime)

    async def found(instance_id: str) -> InstanceRecord:
        record = await store.get_instance(instance_id)
        if record is None:
            raise ApiProblem(404, f"no instance {instance_id!r}", "instance-not-found")
        return record

    @router.get("/health")
    async def health() -> dict[str, Any]:
        await store.list_definitions()  # a store failing answers 503
        return {"status": "ok", "version": __version__, "store": redact(settings.store_url)}

    # definitions ---------------------------------------------------------------------

    @router.post("/definitions", status_code=201)
    async def deploy(request: Request, response: Response) -> dict[str, Any]:
        text = _document_text(await request.body())
        try:
            definition = load(text, "request")
        except InvalidWorkflowError as exc:
            raise _invalid(exc) from None
        known = await store.get_definition(definition.namespace, definition.name,
                                           definition.version)
        try:
            record = await runtime.deploy(definition)
        except InvalidWorkflowError as exc:  # a resource it names cannot be read
            raise _invalid(exc) from None
        except DefinitionConflict as exc:
            raise ApiProblem(409, f"{exc}; deploy it under a new document.version",
                             "definition-conflict") from None
        if known is not None:
            response.status_code = 200
        return {**definition_json(record), "status": "unchanged" if known else "deployed"}

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
        name = WorkflowName.parse(body.workflow)
        if name is None:
            raise ApiProblem(422, f"workflow {body.workflow!r} is not namespace/name[:version]",
                             "invalid-request", field="body.workflow")
        try:
            definition = await runtime.registry.get(name.namespace, name.name, name.version)
        except WorkflowError as exc:
            raise ApiProblem(404, str(exc), "definition-not-found") from None
        key = body.key if body.key is not None else idempotency_key
        try:
            record, created = await runtime.create_instance(definition, body.input, key=key)
        except InvalidWorkflowError as exc:
            raise _invalid(exc) from None
        except WorkflowError as exc:  # an input its schema refuses
            raise ApiProblem(400, str(exc), "invalid-input") from None
        if created:
            runtime.dispatcher.notify()
        else:
            response.status_code = 200
        return _shown(record)

    @router.get("/instances")
    async def instances(status: Status | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000:
            raise ApiProblem(422, "limit: between 1 and 1000", "invalid-request",
                             field="query.limit")
        listed = await store.list_instances(InstanceQuery(status=status, limit=limit))
        return [_shown(record) for record in listed]

    @router.get("/instances/{instance_id}")
    async def instance(instance_id: str) -> dict[str, Any]:
        record = await found(instance_id)
        shown = _shown(record)
        if record.status not in ENDED:
            listening = await store.get_subscriptions(instance_id)
            if listening:
                shown["waitingFor"] = waiting_for_json(listening)
        return shown

    @router.get("/instances/{instance_id}/history")
    async def history(instance_id: str) -> list[dict[str, Any]]:
        await found(instance_id)
        # Secret references show as ***: a history view never resolves them.
        return [entry_json(replace(entry, data=displayed(entry.data)))
                for entry in await store.read_journal(instance_id)]

    async def control(instance_id: str, command: str, by: str) -> dict[str, Any]:
        record = await found(instance_id)
        if record.status in ENDED:
            raise _ended(record, command)
        if command == SUSPEND and record.status == SUSPENDED:
            return _shown(record)
        if command == RESUME and record.status != SUSPENDED and record.request != SUSPEND:
            return _shown(record)
        record = await store.request(instance_id, command, by=by) or record
        log.info("%s asked to %s %s: %s", by, command, instance_id, record.status)
        if record.status in ENDED and not (command == CANCEL and record.status == CANCELLED):
            raise _ended(record, command)
        return _shown(record)

    @router.post("/instances/{instance_id}/cancel")
    async def cancel(instance_id: str, by: Caller) -> dict[str, Any]:
        return await control(instance_id, CANCEL, by)

    @router.post("/instances/{instance_id}/suspend")
    async def suspend(instance_id: str, by: Caller) -> dict[str, Any]:
        return await control(instance_id, SUSPEND, by)

    @router.post("/instances/{instance_id}/resume")
    async def resume(instance_id: str, by: Caller) -> dict[str, Any]:
        shown = await control(instance_id, RESUME, by)
        runtime.dispatcher.notify()
        return shown

    @router.post("/instances/{instance_id}/retry")
    async def retry(instance_id: str, by: Caller) -> dict[str, Any]:
        record = await found(instance_id)
        if not quarantined(record):
            raise ApiProblem(409, f"instance {instance_id} is {record.status}, not quarantined:"
                             " nothing to retry", "conflict")
        retried = await store.request(instance_id, RETRY, by=by)
        log.info("%s asked to retry %s", by, instance_id)
        if retried is None or quarantined(retried):
            raise ApiProblem(409, f"instance {instance_id} changed meanwhile: nothing retried",
                             "conflict")
        return _shown(retried)

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


def _ended(record: InstanceRecord, command: str) -> ApiProblem:
    return ApiProblem(409, f"instance {record.id} has ended ({record.status}): "
                      f"nothing to {command}", "instance-ended")


def create_app(runtime: Runtime, settings: ServerSettings) -> FastAPI:
    """The API over ``runtime`` (opened over a store, kept open by the caller)."""
    app = FastAPI(
        title="Podium", version=__version__,
        openapi_url="/api/v1/openapi.json", docs_url="/api/docs", redoc_url=None,
    )
    app.state.podium_settings = settings
    install(app, settings.store_url)
    app.include_router(_router(runtime, settings))
    app.add_middleware(BodyLimit, limit=settings.max_body)
    return app
