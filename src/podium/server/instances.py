"""The routes over many instances, and over one instance's history and output:
listing by filters with cursor pages, history pages, output, purge, and bulk
actions (the dead-letter queue: retry or cancel every faulted instance of a
workflow). Actions go through ``Operations``, as the dashboard's forms do."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations,
# and ``Caller`` is local to ``instance_routes``.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from podium.server.filters import (
    MAX_INTEGER,
    BulkRequest,
    InstanceListing,
    PurgeRequest,
)
from podium.server.operations import PURGE, BulkOutcome, Operations, shown, shown_entry
from podium.server.problems import ApiProblem, problem_body
from podium.store import COMPLETED, ENDED, page_cursor, parse_cursor

API = "/api/v1"

# The single actions (operations.BULK_ACTIONS but purge, which has its own route).
BulkAction = Literal["cancel", "retry", "suspend", "resume"]


class InstancePage(BaseModel):
    items: list[dict[str, Any]] = Field(description="instances, newest first")
    next: str | None = Field(description="the cursor of the next page; null on the last")


class HistoryPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="history lines in order")
    next: int | None = Field(description="the `after` of the next page; null on the last")


class Failure(BaseModel):
    id: str
    problem: dict[str, Any] = Field(description="why, as the single action would answer")


class BulkResult(BaseModel):
    matched: int = Field(description="instances the filter chose (at most `max`)")
    done: list[str]
    failed: list[Failure]


def bulk_json(outcome: BulkOutcome) -> dict[str, Any]:
    def where(instance_id: str) -> str:
        path = f"{API}/instances/{instance_id}"
        return path if outcome.action == PURGE else f"{path}/{outcome.action}"

    return {
        "matched": outcome.matched,
        "done": outcome.done,
        "failed": [
            {"id": instance_id,
             "problem": problem_body(p.status, p.detail, where(instance_id), p.kind, **p.extra)}
            for instance_id, p in outcome.failed
        ],
    }


def instance_routes(operations: Operations,
                    caller: Callable[..., Awaitable[str]]) -> APIRouter:
    """These routes; ``caller`` is the app's one authorization dependency."""
    router = APIRouter()
    store = operations.store
    Caller = Annotated[str, Depends(caller)]

    @router.get("/instances", response_model=InstancePage)
    async def instances(listing: Annotated[InstanceListing, Query()]) -> dict[str, Any]:
        """Instances matching every filter given, newest first, a page at a time."""
        # Its pattern is the cursor's shape: any cursor that matches is a place.
        after = parse_cursor(listing.cursor) if listing.cursor else None
        # One more than asked tells whether another page follows.
        found = await store.list_instances(listing.query(listing.limit + 1, after))
        page = found[: listing.limit]
        following = page_cursor(page[-1]) if len(found) > listing.limit else None
        return {"items": [shown(record) for record in page], "next": following}

    @router.get("/instances/{instance_id}/history", response_model=HistoryPage)
    async def history(
        instance_id: str,
        after: Annotated[int | None, Query(ge=0, le=MAX_INTEGER,
                                           description="the last seq already seen")] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="lines per page")] = 100,
    ) -> dict[str, Any]:
        """The instance's history (its journal) in order; secrets show as ***."""
        await operations.found(instance_id)
        entries = await store.read_journal(instance_id, after_seq=after, limit=limit + 1)
        page = entries[:limit]
        following = page[-1].seq if len(entries) > limit else None
        return {"items": [shown_entry(entry) for entry in page], "next": following}

    @router.get("/instances/{instance_id}/output",
                responses={200: {"description": "the workflow's output (any JSON value)"}})
    async def output(instance_id: str) -> JSONResponse:
        """The output of a completed instance; 409 while it runs or when it ended
        otherwise (a faulted one says its error)."""
        record = await operations.found(instance_id)
        if record.status == COMPLETED:
            return JSONResponse(record.output)
        if record.status in ENDED:
            error = record.error or {}
            why = f": {error.get('title') or error.get('type')}" if error else ""
            detail = f" ({error['detail']})" if error.get("detail") else ""
            raise ApiProblem(409, f"instance {instance_id} is {record.status}{why}{detail}; "
                             "it has no output", "no-output", error=record.error)
        raise ApiProblem(409, f"instance {instance_id} is {record.status}: no output yet",
                         "no-output")

    @router.delete("/instances/{instance_id}", status_code=204,
                   response_class=Response)
    async def purge(instance_id: str, by: Caller) -> Response:
        """Delete an ended instance: its record, history, subscriptions, mailbox.
        Instances it started (subflows) stay: each is purged on its own."""
        await operations.purge(instance_id, by)
        return Response(status_code=204)

    @router.post("/instances/purge", response_model=BulkResult)
    async def purge_many(body: PurgeRequest, by: Caller) -> dict[str, Any]:
        """Purge the ended instances of the filter, ended before ``ended_before``."""
        return bulk_json(await operations.bulk(PURGE, body.query(body.max), by))

    @router.post("/instances/bulk/{action}", response_model=BulkResult)
    async def bulk(action: BulkAction, body: BulkRequest, by: Caller) -> dict[str, Any]:
        """An action on every instance of the filter (status or workflow required),
        each recorded in its history as the single action is."""
        return bulk_json(await operations.bulk(action, body.query(body.max), by))

    return router
