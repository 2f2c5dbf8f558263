"""The error notifications' stand-ins: a chat webhook, a pager and a digest service.

- chat (``http://127.0.0.1:8715``): ``POST /webhook`` posts a message to the team's
  channel (here: prints and keeps it).
- pager (``http://127.0.0.1:8716``): ``POST /pages`` pages on-call (``target``:
  ``primary``, or ``secondary`` when escalating) and answers the page's id;
  ``GET /ack?page=ID&by=NAME`` is the button on-call presses: it publishes
  ``com.example.pager.acknowledged`` (data: the page's ``alertKey``, ``by``) to
  Podium's API, ``POST {PODIUM_URL}/api/v1/events`` (``PODIUM_URL``: where
  ``podium serve`` listens, ``http://127.0.0.1:8080`` unless the environment says
  otherwise). ``GET /pages`` lists the pages.
- digest (``http://127.0.0.1:8717``): ``POST /items`` keeps a low-severity error
  for the next digest; ``POST /digests`` "sends" the digest of everything kept
  since the previous one and answers it. ``GET /items`` lists what waits.
"""

from __future__ import annotations

import threading

from examples import use_cases
from examples.use_cases import Calls, StandIn, say
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

CHAT_PORT, PAGER_PORT, DIGEST_PORT = 8715, 8716, 8717
PAGER_URL = f"http://127.0.0.1:{PAGER_PORT}"
PODIUM_URL = use_cases.PODIUM_URL

chat_messages = Calls()  # "message"
pages = Calls()  # "page", "ack"
digest_calls = Calls()  # "item", "digest"

_lock = threading.Lock()
_pending_items: list[dict[str, object]] = []


async def post_message(request: Request) -> JSONResponse:
    body = await request.json()
    chat_messages.record("message", body, dict(request.headers))
    say(f"chat: {body['text']}")
    return JSONResponse({"ok": True})


async def page(request: Request) -> JSONResponse:
    body = await request.json()
    page_id = f"P{len(pages.named('page')) + 1}"
    pages.record("page", {**body, "page": page_id}, dict(request.headers))
    say(f"pager: {page_id} to {body['target']} on-call: [{body['service']}] "
        f"{body['message']} (acknowledge: {PAGER_URL}/ack?page={page_id}&by=NAME)")
    return JSONResponse({"page": page_id}, status_code=201)


async def acknowledge(request: Request) -> PlainTextResponse:
    page_id, by = request.query_params["page"], request.query_params.get("by", "on-call")
    paged = [call.body for call in pages.named("page") if call.body["page"] == page_id]
    if not paged:
        return PlainTextResponse(f"no page {page_id}\n", status_code=404)
    pages.record("ack", {"page": page_id, "by": by})
    event = {"specversion": "1.0", "id": f"ack-{page_id}", "source": PAGER_URL,
             "type": "com.example.pager.acknowledged", "datacontenttype": "application/json",
             "data": {"alertKey": paged[0]["alertKey"], "page": page_id, "by": by}}
    refused = await use_cases.publish(event, PODIUM_URL)
    if refused is not None:
        return PlainTextResponse(f"Podium refused the event: {refused}", status_code=502)
    return PlainTextResponse(f"{page_id} acknowledged by {by}\n")


async def listed_pages(request: Request) -> JSONResponse:
    return JSONResponse([call.body for call in pages.named("page")])


async def add_item(request: Request) -> JSONResponse:
    body = await request.json()
    digest_calls.record("item", body, dict(request.headers))
    with _lock:
        _pending_items.append(body)
    say(f"digest: kept [{body['service']}] {body['message']} for the next digest")
    return JSONResponse({"kept": True}, status_code=202)


async def send_digest(request: Request) -> JSONResponse:
    body = await request.json()
    with _lock:
        items = list(_pending_items)
        _pending_items.clear()
    digest = {"channel": body.get("channel"), "items": items}
    digest_calls.record("digest", digest, dict(request.headers))
    say(f"digest: sent {len(items)} items to {digest['channel']}")
    return JSONResponse(digest)


async def listed_items(request: Request) -> JSONResponse:
    with _lock:
        return JSONResponse(list(_pending_items))


chat = Starlette(routes=[Route("/webhook", post_message, methods=["POST"])])
pager = Starlette(routes=[
    Route("/pages", page, methods=["POST"]),
    Route("/pages", listed_pages, methods=["GET"]),
    Route("/ack", acknowledge, methods=["GET", "POST"]),
])
digest = Starlette(routes=[
    Route("/items", add_item, methods=["POST"]),
    Route("/items", listed_items, methods=["GET"]),
    Route("/digests", send_digest, methods=["POST"]),
])

STANDINS = [
    StandIn("chat", CHAT_PORT, chat),
    StandIn("pager", PAGER_PORT, pager),
    StandIn("digest", DIGEST_PORT, digest),
]


def reset() -> None:
    for calls in (chat_messages, pages, digest_calls):
        calls.clear()
    with _lock:
        _pending_items.clear()
