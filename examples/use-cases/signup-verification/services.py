"""The sign-up's stand-in: a mailer, and the link a user clicks.

``send-signup-mail.yaml`` posts each verification request and reminder to
``POST /mails``; the mailer "sends" it (prints it, with the link) and keeps it.
``GET /verify?user=ID`` is the link in the mail: clicking it publishes the
``com.example.signup.verified`` CloudEvent to Podium's API
(``POST {PODIUM_URL}/api/v1/events``; ``PODIUM_URL`` is ``http://127.0.0.1:8080``,
where ``podium serve`` listens, unless the environment says otherwise). Its
event id names the user, so a second click is a duplicate Podium keeps once.
``GET /mails`` lists the mails sent.
"""

from __future__ import annotations

from examples import use_cases
from examples.use_cases import Calls, StandIn, say
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

MAILER_PORT = 8720
MAILER_URL = f"http://127.0.0.1:{MAILER_PORT}"
PODIUM_URL = use_cases.PODIUM_URL

mails = Calls()  # "mail": what the workflow asked to send
clicks = Calls()  # "click": the verification links followed


async def send_mail(request: Request) -> JSONResponse:
    body = await request.json()
    link = f"{MAILER_URL}/verify?user={body['userId']}"
    mails.record("mail", {**body, "link": link}, dict(request.headers))
    say(f"mailer: {body['kind']} to {body['to']}: verify at {link}")
    return JSONResponse({"sent": body["kind"], "to": body["to"]}, status_code=202)


async def verify(request: Request) -> PlainTextResponse:
    user = request.query_params["user"]
    clicks.record("click", {"user": user})
    event = {"specversion": "1.0", "id": f"verified-{user}", "source": MAILER_URL,
             "type": "com.example.signup.verified", "subject": user,
             "datacontenttype": "application/json", "data": {"userId": user}}
    refused = await use_cases.publish(event, PODIUM_URL)
    if refused is not None:
        return PlainTextResponse(f"Podium refused the event: {refused}", status_code=502)
    return PlainTextResponse(f"Thank you, {user}: your address is verified.\n")


async def listed(request: Request) -> JSONResponse:
    return JSONResponse([call.body for call in mails.named("mail")])


mailer = Starlette(routes=[
    Route("/mails", send_mail, methods=["POST"]),
    Route("/mails", listed, methods=["GET"]),
    Route("/verify", verify, methods=["GET"]),
])

STANDINS = [StandIn("mailer", MAILER_PORT, mailer)]


def reset() -> None:
    mails.clear()
    clicks.clear()
