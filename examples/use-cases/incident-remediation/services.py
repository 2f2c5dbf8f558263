"""The stand-ins the incident-remediation workflow talks to.

``fleet`` (127.0.0.1:8780): a small fleet of services, each in trouble its own way.

- ``GET /services/{service}/metrics``, ``/logs``, ``/deploys``: what diagnosis reads;
- ``POST /remediations`` (``{alertId, service, runbook}``): the remediation script
  applies a runbook; it heals the service when the runbook fits its trouble;
- ``GET /services/{service}/status``: ``{"healthy": true|false}``, what verification reads.

``pager`` (127.0.0.1:8781): ``POST /pages`` pages the on-call engineer.

The fleet (``FLEET``): ``checkout`` has a full disk (rotating logs fixes it: a safe
runbook); ``payments`` fails since a release 5 minutes ago (rolling back fixes it: a
risky runbook, it needs an operator's approval); ``search`` has a full disk that
rotating logs does not fix (the verification fails: escalation). Every request is
recorded in ``FLEET_CALLS`` / ``PAGER_CALLS`` for the tests.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from examples.use_cases import Calls, StandIn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

FLEET_PORT = 8780
PAGER_PORT = 8781

HEALTHY_METRICS = {"errorRate": 0.001, "latencyMs": 80, "diskUsedPercent": 41}
FLEET: dict[str, dict[str, Any]] = {
    "checkout": {
        "metrics": {**HEALTHY_METRICS, "latencyMs": 900, "diskUsedPercent": 96},
        "logs": {"errors": 212, "topError": "OSError: [Errno 28] No space left on device"},
        "deploys": [{"version": "5.2.0", "minutesAgo": 4320}],
        "fixedBy": "rotate-logs",
    },
    "payments": {
        "metrics": {**HEALTHY_METRICS, "errorRate": 0.31},
        "logs": {"errors": 1840, "topError": "KeyError: 'currency' in charge()"},
        "deploys": [{"version": "3.8.0", "minutesAgo": 5},
                    {"version": "3.7.2", "minutesAgo": 2880}],
        "fixedBy": "rollback-release",
    },
    "search": {
        "metrics": {**HEALTHY_METRICS, "diskUsedPercent": 97},
        "logs": {"errors": 35, "topError": "index segment merge failed: disk full"},
        "deploys": [{"version": "1.9.1", "minutesAgo": 10080}],
        "fixedBy": None,  # its index fills the disk, not its logs
    },
}

FLEET_CALLS = Calls()
PAGER_CALLS = Calls()
_lock = threading.Lock()
_healthy: dict[str, bool] = {}
_pages: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> the page


def reset() -> None:
    FLEET_CALLS.clear()
    PAGER_CALLS.clear()
    with _lock:
        _healthy.clear()
        _healthy.update({service: False for service in FLEET})
        _pages.clear()


def _service(request: Request) -> dict[str, Any] | None:
    return FLEET.get(request.path_params["service"])


def _reading(part: str) -> Any:
    async def read(request: Request) -> JSONResponse:
        name = request.path_params["service"]
        FLEET_CALLS.record(part, {"service": name}, dict(request.headers))
        service = _service(request)
        if service is None:
            return JSONResponse({"error": f"no service {name}"}, status_code=404)
        value = copy.deepcopy(service[part])
        return JSONResponse({"service": name, part: value})

    return read


async def remediate(request: Request) -> JSONResponse:
    body = await request.json()
    FLEET_CALLS.record("remediate", body, dict(request.headers))
    service = FLEET.get(str(body.get("service")))
    if service is None:
        return JSONResponse({"error": f"no service {body.get('service')}"}, status_code=404)
    fixed = service["fixedBy"] == body.get("runbook")
    with _lock:
        _healthy[str(body["service"])] = _healthy.get(str(body["service"]), False) or fixed
    return JSONResponse({"service": body["service"], "runbook": body.get("runbook"),
                         "applied": True})


async def status(request: Request) -> JSONResponse:
    name = request.path_params["service"]
    FLEET_CALLS.record("verify", {"service": name}, dict(request.headers))
    with _lock:
        healthy = _healthy.get(name, False)
    return JSONResponse({"service": name, "healthy": healthy})


async def page(request: Request) -> JSONResponse:
    body = await request.json()
    PAGER_CALLS.record("page", body, dict(request.headers))
    key = request.headers.get("idempotency-key") or f"page-{len(_pages) + 1}"
    with _lock:
        answer = _pages.setdefault(key, {"pageId": f"p-{len(_pages) + 1}",
                                         "onCall": "sre-primary"})
    return JSONResponse(answer, status_code=201)


fleet = Starlette(routes=[
    Route("/services/{service}/metrics", _reading("metrics"), methods=["GET"]),
    Route("/services/{service}/logs", _reading("logs"), methods=["GET"]),
    Route("/services/{service}/deploys", _reading("deploys"), methods=["GET"]),
    Route("/services/{service}/status", status, methods=["GET"]),
    Route("/remediations", remediate, methods=["POST"]),
])
pager = Starlette(routes=[Route("/pages", page, methods=["POST"])])

STANDINS = [StandIn("fleet", FLEET_PORT, fleet), StandIn("pager", PAGER_PORT, pager)]
reset()
