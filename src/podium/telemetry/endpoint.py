"""``/metrics`` of a process that serves no API (``podium worker --metrics-port``):
a tiny ASGI app on uvicorn, on the worker's own event loop, so that a scrape
reads the store's counts with the same async store as everything else.

It answers ``GET /metrics`` and nothing else, without authentication: bind it
where only the scraper can reach it (the default address is the loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from podium.telemetry._telemetry import Telemetry

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("podium.telemetry")


def metrics_app(telemetry: Telemetry) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app: ``GET``/``HEAD /metrics`` is the exposition, anything else 404/405."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics":
            await _answer(send, 404, b"not found: the metrics are at /metrics\n")
        elif scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
        else:
            body = await telemetry.scrape()
            await _answer(send, 200, b"" if scope["method"] == "HEAD" else body,
                          content_type=CONTENT_TYPE_LATEST.encode())

    return app


async def _answer(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = (),
                  content_type: bytes = b"text/plain; charset=utf-8") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), *headers]})
    await send({"type": "http.response.body", "body": body})


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (``OSError`` when the address is taken or not local)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serving(telemetry: Telemetry, sock: socket.socket) -> AsyncIterator[None]:
    """Serve ``/metrics`` on ``sock`` (see ``bind``) while the block runs."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the worker's own handlers stop it

    # Its warnings go to the "uvicorn" logger, formatted by whoever configured logging.
    server = _Server(uvicorn.Config(metrics_app(telemetry), lifespan="off", log_level="warning",
                                    access_log=False, log_config=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
