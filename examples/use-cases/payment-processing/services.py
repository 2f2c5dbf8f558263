"""Stand-ins for the payment-processing saga: an inventory, a payment provider (an
OpenAPI service) and a shipping service.

Every operation is idempotent by its ``Idempotency-Key`` header, as real payment
APIs are: the first request with a key takes effect and its answer is kept; a
request repeating the key gets the kept answer and changes nothing. ``requests``
records every request, ``effects`` only those that took effect, so the tests can
tell "sent twice" (a worker killed mid-call) from "captured twice" (a bug).

To try the failure paths by hand, ``POST /control`` on any of them:

    {"fail": {"capture": {"status": 402, "times": 1}}}   # the next capture is declined
    {"fail": {"authorize": {"status": 503, "times": 2}}} # two 503s, then it works
    {"delay": {"capture": 10}}                           # answer captures 10 s late
    {}                                                   # back to normal
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from examples.use_cases import Calls, StandIn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

INVENTORY_PORT, PAYMENTS_PORT, SHIPPING_PORT = 8740, 8741, 8742

requests = Calls()  # every request, by operation name
effects = Calls()  # only the requests that took effect (first of their key)


@dataclass
class Behaviour:
    """Faults and delays asked for through ``/control`` (or ``control(...)``)."""

    fail: dict[str, dict[str, int]] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failure(self, operation: str) -> int | None:
        """The status this request must fail with, if a fault is armed."""
        with self.lock:
            armed = self.fail.get(operation)
            if not armed or armed.get("times", 1) <= 0:
                return None
            armed["times"] = armed.get("times", 1) - 1
            return int(armed.get("status", 500))


behaviour = Behaviour()
_answers: dict[tuple[str, str], tuple[int, Any]] = {}  # (operation, key) -> kept answer
_ids = itertools.count(1)


def control(settings: dict[str, Any]) -> None:
    """Replace the armed faults and delays (what ``POST /control`` does)."""
    with behaviour.lock:
        behaviour.fail = {k: dict(v) for k, v in settings.get("fail", {}).items()}
        behaviour.delay = {k: float(v) for k, v in settings.get("delay", {}).items()}


def reset() -> None:
    requests.clear()
    effects.clear()
    _answers.clear()
    control({})


async def _idempotent(request: Request, operation: str, effect: Any) -> JSONResponse:
    """Serve ``operation`` once per idempotency key: ``effect(body)`` gives the answer
    of the first request; repeats get that answer again."""
    body = await request.json() if await request.body() else None
    key = request.headers.get("idempotency-key")
    requests.record(operation, body, dict(request.headers))
    if not key:
        return JSONResponse({"error": "an Idempotency-Key header is required"}, 400)
    kept = _answers.get((operation, key))
    if kept is None:
        status = behaviour.failure(operation)
        if status is not None:
            # A fault changes nothing: the same key may try again.
            return JSONResponse({"error": f"{operation} failed (status {status})"}, status)
        kept = _answers[(operation, key)] = await effect(body, request)
        effects.record(operation, body, dict(request.headers))
    # The effect happened; the answer may come late (or never: a worker killed
    # while it waits). A repeat with the same key gets the kept answer.
    await _hold(request, behaviour.delay.get(operation, 0))
    status, answer = kept
    return JSONResponse(answer, status)


async def _hold(request: Request, seconds: float) -> None:
    """Wait ``seconds`` before answering, or until the client has gone away."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


def _next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids):05d}"


# inventory -------------------------------------------------------------------------

async def reserve(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        return 201, {"reservationId": _next_id("res"), "sku": body["sku"],
                     "quantity": body["quantity"]}
    return await _idempotent(request, "reserve", effect)


async def release(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        return 200, {"reservationId": request.path_params["id"], "status": "released"}
    return await _idempotent(request, "release", effect)


# payments (OpenAPI) -----------------------------------------------------------------

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Payments stand-in", "version": "1.0.0"},
    "servers": [{"url": f"http://127.0.0.1:{PAYMENTS_PORT}"}],
    "components": {
        "parameters": {
            "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": True,
                               "schema": {"type": "string"}},
        },
        "schemas": {
            "Authorization": {"type": "object", "required": ["orderId", "amount", "card"],
                              "properties": {"orderId": {"type": "string"},
                                             "amount": {"type": "number"},
                                             "currency": {"type": "string"},
                                             "card": {"type": "string"}}},
        },
    },
    "paths": {
        "/authorizations": {"post": {
            "operationId": "authorizePayment",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Authorization"}}}},
            "responses": {"201": {"description": "authorized"},
                          "402": {"description": "declined"}},
        }},
        "/authorizations/{authorizationId}/capture": {"post": {
            "operationId": "capturePayment",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"},
                           {"name": "authorizationId", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"201": {"description": "captured"}},
        }},
        "/authorizations/{authorizationId}/void": {"post": {
            "operationId": "voidAuthorization",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"},
                           {"name": "authorizationId", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "voided"}},
        }},
        "/captures/{captureId}/refund": {"post": {
            "operationId": "refundPayment",
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"},
                           {"name": "captureId", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"201": {"description": "refunded"}},
        }},
    },
}


async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(OPENAPI)


async def authorize(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        if body.get("card") == "tok_declined":
            return 402, {"error": "card declined"}
        return 201, {"authorizationId": _next_id("auth"), "amount": body["amount"],
                     "status": "authorized"}
    return await _idempotent(request, "authorize", effect)


async def capture(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        return 201, {"captureId": _next_id("cap"),
                     "authorizationId": request.path_params["id"], "status": "captured"}
    return await _idempotent(request, "capture", effect)


async def void(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        return 200, {"authorizationId": request.path_params["id"], "status": "voided"}
    return await _idempotent(request, "void", effect)


async def refund(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        return 201, {"refundId": _next_id("ref"), "captureId": request.path_params["id"],
                     "status": "refunded"}
    return await _idempotent(request, "refund", effect)


# shipping ---------------------------------------------------------------------------

async def ship(request: Request) -> JSONResponse:
    async def effect(body: Any, request: Request) -> tuple[int, Any]:
        return 201, {"shipmentId": _next_id("shp"),
                     "trackingNumber": f"TRK{next(_ids):08d}", "address": body["address"]}
    return await _idempotent(request, "ship", effect)


async def control_endpoint(request: Request) -> JSONResponse:
    settings = await request.json() if await request.body() else {}
    control(settings)
    return JSONResponse({"fail": behaviour.fail, "delay": behaviour.delay})


CONTROL = Route("/control", control_endpoint, methods=["POST"])

inventory = Starlette(routes=[
    Route("/reservations", reserve, methods=["POST"]),
    Route("/reservations/{id}/release", release, methods=["POST"]),
    CONTROL,
])
payments = Starlette(routes=[
    Route("/openapi.json", openapi_document),
    Route("/authorizations", authorize, methods=["POST"]),
    Route("/authorizations/{id}/capture", capture, methods=["POST"]),
    Route("/authorizations/{id}/void", void, methods=["POST"]),
    Route("/captures/{id}/refund", refund, methods=["POST"]),
    CONTROL,
])
shipping = Starlette(routes=[Route("/shipments", ship, methods=["POST"]), CONTROL])

STANDINS = [
    StandIn("inventory", INVENTORY_PORT, inventory),
    StandIn("payments", PAYMENTS_PORT, payments),
    StandIn("shipping", SHIPPING_PORT, shipping),
]
