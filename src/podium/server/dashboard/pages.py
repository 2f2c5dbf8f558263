"""The dashboard's pages (GET): the overview, the instances and one instance,
the definitions and one definition. Each reads the store and renders a
template; the forms on them post to ``actions``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from podium.dsl.graph import END, SCOPE, START, Graph, build_graph
from podium.engine.secret_refs import displayed
from podium.records import waiting_for_json
from podium.server.dashboard import outcomes
from podium.server.dashboard._web import caller, render
from podium.server.dashboard.highlight import highlighted, source_text
from podium.server.dashboard.layout import layout
from podium.server.dashboard.listing import BULK_LIMIT, PAGE, listing
from podium.server.dashboard.overview import WINDOWS, overview
from podium.server.dashboard.timeline import timeline
from podium.server.operations import Operations, shown
from podium.store import (
    ACTIVE,
    ENDED,
    FAULTED,
    SUSPENDED,
    DefinitionRecord,
    InstanceQuery,
    InstanceRecord,
    page_cursor,
)

JOURNAL_ROWS = 1000
TABS = (("", "All"), ("running", "Running"), ("waiting", "Waiting"),
        ("suspended", "Suspended"), ("faulted", "Faulted"), ("completed", "Completed"),
        ("cancelled", "Cancelled"))


def router(operations: Operations) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    store = operations.store

    @routes.get("/", response_class=HTMLResponse)
    async def overview_page(request: Request, window: str = "24h") -> HTMLResponse:
        who = caller(request)
        window = window if window in WINDOWS else "24h"
        now = datetime.now(UTC)
        stats = await store.instance_stats(now - WINDOWS[window])
        return render(request, who, "overview.html", nav="overview",
                      view=overview(stats, window, now), windows=list(WINDOWS))

    async def list_context(request: Request) -> dict[str, Any]:
        found = listing(request.query_params)
        records = await store.list_instances(found.query)
        return {
            "instances": records, "filters": found.filters, "kept": found.kept,
            "bulk": found.bulk, "stream": found.stream(), "bulk_limit": BULK_LIMIT,
            "next_cursor": page_cursor(records[-1]) if len(records) == PAGE else None,
            "paged": found.query.after is not None,
        }

    @routes.get("/instances", response_class=HTMLResponse)
    async def instances_page(request: Request) -> HTMLResponse:
        who = caller(request)
        context = await list_context(request)
        workflows = sorted({(d.namespace, d.name) for d in await store.list_definitions()})
        return render(request, who, "instances.html", nav="instances", tabs=TABS,
                      workflows=workflows, windows=list(WINDOWS), **context)

    @routes.get("/instances/rows", response_class=HTMLResponse)
    async def instance_rows(request: Request) -> HTMLResponse:
        """The rows of the list as it stands (the page refreshes them live)."""
        who = caller(request)
        return render(request, who, "_rows.html", **await list_context(request))

    @routes.get("/instances/{instance_id}", response_class=HTMLResponse)
    async def instance_page(request: Request, instance_id: str) -> HTMLResponse:
        who = caller(request)
        record = await store.get_instance(instance_id)
        if record is None:
            return render(request, who, "error.html", 404, nav="instances",
                          message=f"There is no instance {instance_id!r}.")
        return render(request, who, "instance.html", nav="instances",
                      **await _instance(operations, record))

    @routes.get("/instances/{instance_id}/live", response_class=HTMLResponse)
    async def instance_live(request: Request, instance_id: str) -> HTMLResponse:
        """The parts of an instance's page that change while it runs."""
        who = caller(request)
        record = await store.get_instance(instance_id)
        if record is None:
            return render(request, who, "error.html", 404, message="gone")
        return render(request, who, "_instance_live.html", **await _instance(operations, record))

    @routes.get("/definitions", response_class=HTMLResponse)
    async def definitions_page(request: Request) -> HTMLResponse:
        who = caller(request)
        grouped: dict[tuple[str, str], list[DefinitionRecord]] = {}
        for record in await store.list_definitions():
            grouped.setdefault((record.namespace, record.name), []).append(record)
        schedules = {(s.namespace, s.name): s for s in await store.list_schedules()}
        return render(request, who, "definitions.html", nav="definitions",
                      definitions=sorted(grouped.items()), schedules=schedules)

    @routes.get("/definitions/{namespace}/{name}", response_class=HTMLResponse)
    async def latest_definition(request: Request, namespace: str, name: str) -> HTMLResponse:
        return await definition_page(request, namespace, name, None)

    @routes.get("/definitions/{namespace}/{name}/{version}", response_class=HTMLResponse)
    async def definition_version(request: Request, namespace: str, name: str,
                                 version: str) -> HTMLResponse:
        return await definition_page(request, namespace, name, version)

    async def definition_page(request: Request, namespace: str, name: str,
                              version: str | None) -> HTMLResponse:
        who = caller(request)
        record = await store.get_definition(namespace, name, version)
        if record is None:
            what = f"{namespace}/{name}" + (f":{version}" if version else "")
            return render(request, who, "error.html", 404, nav="definitions",
                          message=f"There is no definition {what}.")
        versions = [r for r in await store.list_definitions()
                    if (r.namespace, r.name) == (namespace, name)]
        schedule = next((s for s in await store.list_schedules()
                         if (s.namespace, s.name) == (namespace, name)), None)
        graph = build_graph(record.document)
        return render(request, who, "definition.html", nav="definitions", definition=record,
                      versions=versions, schedule=schedule, drawing=layout(graph), states={},
                      runs={}, source=highlighted(source_text(record.source, record.document)))

    return routes


def _tasks(graph: Graph, ran: dict[str, int]) -> list[tuple[str, str]]:
    """The tasks a re-run may start from (those that ran): (reference, label)."""
    return [(node.id, f"{node.name} ({node.id})") for node in graph.nodes
            if node.kind not in (START, END, SCOPE) and node.id in ran]


async def _instance(operations: Operations, record: InstanceRecord) -> dict[str, Any]:
    store = operations.store
    now = datetime.now(UTC)
    definition = await store.get_definition(record.namespace, record.name, record.version)
    graph = build_graph(definition.document if definition else {})
    # Secret references show as ***, as in the API's history.
    entries = [replace(entry, data=displayed(entry.data))
               for entry in await store.read_journal(record.id)]
    listening = [] if record.status in ENDED else await store.get_subscriptions(record.id)
    history = outcomes.read_history(entries, graph, record, listening, now)
    children = await store.list_instances(InstanceQuery(parent=record.id, limit=100))
    rerun_of = next((e.data for e in entries if e.kind == "instance.rerun"
                     and isinstance(e.data, dict)), None)
    status = record.status
    return {
        "instance": record,
        "shown": shown(record),
        "definition": definition,
        "drawing": layout(graph),
        "states": history.states,
        "runs": history.runs,
        "history": history,
        "chart": timeline(history, record, now,
                          {node.parent for node in graph.nodes if node.parent}),
        "journal": entries[-JOURNAL_ROWS:],
        "journal_left_out": max(len(entries) - JOURNAL_ROWS, 0),
        "summary": outcomes.summary,
        "waiting_for": waiting_for_json(listening) if listening else [],
        "children": children,
        "rerun_of": rerun_of,
        "tasks": _tasks(graph, history.runs),
        "can": {
            "cancel": status in ACTIVE,
            "suspend": status in ACTIVE and status != SUSPENDED,
            "resume": status == SUSPENDED,
            "retry": status == FAULTED,
        },
        "active": status not in ENDED,
        # The API's live history of the instance, from the entries shown on.
        "stream": f"/api/v1/instances/{record.id}/stream?after={entries[-1].seq or 0}"
        if entries else f"/api/v1/instances/{record.id}/stream",
    }
