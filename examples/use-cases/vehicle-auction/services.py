"""The vehicle auction's stand-in: the bidders' notification service.

``notify-bidder.yaml`` posts each auction result (``com.example.auction.won`` or
``...lost``, emitted by ``auction.yaml``) to ``POST /notifications``; a real
service would send an email or a push message. ``GET /notifications`` lists what
arrived, for a person trying the example.
"""

from __future__ import annotations

from examples.use_cases import Calls, StandIn, say
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

NOTIFIER_PORT = 8710

notifications = Calls()


async def notify(request: Request) -> JSONResponse:
    body = await request.json()
    notifications.record("notify", body, dict(request.headers))
    say(f"notifier: {body['bidder']} {body['outcome']} auction "
        f"{body['auction']['auctionId']}")
    return JSONResponse({"notified": body["bidder"]}, status_code=202)


async def listed(request: Request) -> JSONResponse:
    return JSONResponse([call.body for call in notifications.named("notify")])


notifier = Starlette(routes=[
    Route("/notifications", notify, methods=["POST"]),
    Route("/notifications", listed, methods=["GET"]),
])

STANDINS = [StandIn("notifier", NOTIFIER_PORT, notifier)]


def reset() -> None:
    notifications.clear()
