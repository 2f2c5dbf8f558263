"""Stand-ins for data-analysis: a warehouse that lists the day's partitions and
analyses one on request, and a report service.

    GET  :8760/partitions               {"partitions": [{"id", "path"}, ...]}
    POST :8760/partitions/{id}/analyse  {"partition", "rows", "mean", "min", "max"}
    POST :8761/reports                  201 {"reportId"}; one report per Idempotency-Key

Partition ``2026-12-03`` is flaky: its first analysis answers 503, the next ones
work. Partition ``2026-12-06`` is corrupt: every analysis answers 500.
``analyses`` records each analysis request (by partition id), ``reports`` each
report that was filed (a repeated key files nothing).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from examples.use_cases import Calls, StandIn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

WAREHOUSE_PORT, REPORTS_PORT = 8760, 8761

PARTITIONS = [f"2026-12-{day:02d}" for day in range(1, 8)]
FLAKY = {"2026-12-03": 1}  # partition -> how many analyses fail with 503 first
CORRUPT = {"2026-12-06"}  # partitions whose analysis always fails (500)

listings = Calls()
analyses = Calls()  # by partition id
reports = Calls()  # the reports filed
_attempts: Counter[str] = Counter()
_report_ids: dict[str, str] = {}
_lock = threading.Lock()


def reset() -> None:
    for calls in (listings, analyses, reports):
        calls.clear()
    _attempts.clear()
    _report_ids.clear()


def statistics(partition: str) -> dict[str, Any]:
    """Deterministic numbers for a partition (what the analysis would compute)."""
    day = int(partition[-2:])
    values = [(day * 37 + i * 11) % 100 for i in range(100 + day * 10)]
    mean = round(sum(values) / len(values), 2)
    return {"partition": partition, "rows": len(values), "mean": mean,
            "min": min(values), "max": max(values)}


async def list_partitions(request: Request) -> JSONResponse:
    listings.record("list")
    return JSONResponse({"partitions": [
        {"id": p, "path": f"s3://warehouse/events/day={p}/"} for p in PARTITIONS]})


async def analyse(request: Request) -> JSONResponse:
    partition = request.path_params["id"]
    analyses.record(partition, None, dict(request.headers))
    with _lock:
        _attempts[partition] += 1
        attempt = _attempts[partition]
    if partition not in PARTITIONS:
        return JSONResponse({"error": f"no partition {partition}"}, 404)
    if partition in CORRUPT:
        return JSONResponse({"error": f"partition {partition} has a corrupt footer"}, 500)
    if attempt <= FLAKY.get(partition, 0):
        return JSONResponse({"error": "the warehouse is busy, try again"}, 503)
    return JSONResponse(statistics(partition))


async def file_report(request: Request) -> JSONResponse:
    body = await request.json()
    key = request.headers.get("idempotency-key", "")
    with _lock:
        known = _report_ids.get(key)
        if known is None:
            known = _report_ids[key] = f"report-{len(_report_ids) + 1:03d}"
            reports.record("report", body, dict(request.headers))
    return JSONResponse({"reportId": known}, 201)


warehouse = Starlette(routes=[
    Route("/partitions", list_partitions),
    Route("/partitions/{id}/analyse", analyse, methods=["POST"]),
])
report_service = Starlette(routes=[Route("/reports", file_report, methods=["POST"])])

STANDINS = [
    StandIn("warehouse", WAREHOUSE_PORT, warehouse),
    StandIn("reports", REPORTS_PORT, report_service),
]
