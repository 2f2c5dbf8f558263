"""The stand-in the CI/CD pipeline deploys to: a tiny "cluster" on 127.0.0.1:8770.

- ``POST /deployments`` (``{service, version, artifact, pipelineId}``) rolls the
  service out to ``version`` and answers ``201 {deploymentId, service, version,
  previousVersion}``. A repeated ``Idempotency-Key`` (Podium sends one on every
  journaled call) gets the first answer back and deploys nothing twice.
- ``GET /services/{service}/health``: ``200 {"status": "healthy"}``, or ``503``
  while the running version ends in ``-broken`` (deploy ``2.0.0-broken`` to see
  the pipeline roll back: ``input-broken.json``).
- ``POST /deployments/{deploymentId}/rollback``: back to the previous version.

``GET /services/{service}`` shows what runs now. Every request is recorded in
``CALLS`` (``deploy``, ``health``, ``rollback``) for the tests.
"""

from __future__ import annotations

import threading
from typing import Any

from examples.use_cases import Calls, StandIn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PORT = 8770
INITIAL_VERSIONS = {"web": "1.3.0"}

CALLS = Calls()
_lock = threading.Lock()
_running: dict[str, str] = {}  # service -> the version it runs
_deployments: dict[str, dict[str, Any]] = {}  # deploymentId -> the deployment
_answers: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> the first answer


def reset() -> None:
    CALLS.clear()
    with _lock:
        _running.clear()
        _running.update(INITIAL_VERSIONS)
        _deployments.clear()
        _answers.clear()


async def deploy(request: Request) -> JSONResponse:
    body = await request.json()
    CALLS.record("deploy", body, dict(request.headers))
    key = request.headers.get("idempotency-key")
    with _lock:
        if key is not None and key in _answers:
            return JSONResponse(_answers[key], status_code=201)
        service, version = str(body["service"]), str(body["version"])
        deployment = {"deploymentId": f"d-{len(_deployments) + 1}", "service": service,
                      "version": version, "artifact": body.get("artifact"),
                      "previousVersion": _running.get(service)}
        _deployments[deployment["deploymentId"]] = deployment
        _running[service] = version
        if key is not None:
            _answers[key] = deployment
    return JSONResponse(deployment, status_code=201)


async def health(request: Request) -> JSONResponse:
    service = request.path_params["service"]
    CALLS.record("health", {"service": service}, dict(request.headers))
    with _lock:
        version = _running.get(service)
    if version is None:
        return JSONResponse({"status": "unknown", "service": service}, status_code=404)
    if version.endswith("-broken"):
        return JSONResponse({"status": "unhealthy", "service": service, "version": version,
                             "reason": "readiness probe failing"}, status_code=503)
    return JSONResponse({"status": "healthy", "service": service, "version": version})


async def rollback(request: Request) -> JSONResponse:
    deployment_id = request.path_params["deployment"]
    CALLS.record("rollback", {"deploymentId": deployment_id}, dict(request.headers))
    with _lock:
        deployment = _deployments.get(deployment_id)
        if deployment is None:
            return JSONResponse({"error": f"no deployment {deployment_id}"}, status_code=404)
        restored = deployment["previousVersion"]
        if restored is not None:
            _running[deployment["service"]] = restored
    return JSONResponse({"deploymentId": deployment_id, "service": deployment["service"],
                         "rolledBackTo": restored})


async def running(request: Request) -> JSONResponse:
    service = request.path_params["service"]
    with _lock:
        return JSONResponse({"service": service, "version": _running.get(service)})


app = Starlette(routes=[
    Route("/deployments", deploy, methods=["POST"]),
    Route("/deployments/{deployment}/rollback", rollback, methods=["POST"]),
    Route("/services/{service}/health", health, methods=["GET"]),
    Route("/services/{service}", running, methods=["GET"]),
])

STANDINS = [StandIn("deployer", PORT, app)]
reset()
