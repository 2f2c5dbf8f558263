"""An API client over a real store (both backends): the app in this process,
reached through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from podium import Runtime
from podium.server import ServerSettings, create_app
from podium.store import open_store
from tests.support.nats_server import free_port

VIEWER = "viewer-token-123"
OPERATOR = "operator-token-456"
TOKENS = {VIEWER: "viewer", OPERATOR: "operator"}

GREET = """\
document:
  dsl: '1.0.3'
  namespace: test
  name: greet
  version: '1.0.0'
do:
  - hello:
      set:
        message: hi
"""


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def client_for(store_url: str, **options: object) -> AsyncIterator[httpx.AsyncClient]:
    store = open_store(store_url)
    await store.open()
    try:
        async with Runtime(store=store) as runtime:
            settings = ServerSettings(store_url=store_url, **options)  # type: ignore[arg-type]
            app = create_app(runtime, settings)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://testserver/api/v1") as client:
                yield client
    finally:
        await store.close()


@pytest.fixture
async def api(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's client (tokens configured: viewer and operator)."""
    async for client in client_for(store_url, tokens=TOKENS, max_body=4096):
        client.headers.update(auth(OPERATOR))
        yield client


@pytest.fixture
async def anonymous(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a token over the same kind of app (tokens configured)."""
    async for client in client_for(store_url, tokens=TOKENS):
        yield client


FAILING = """\
document:
  dsl: '1.0.3'
  namespace: test
  name: boom
  version: '1.0.0'
do:
  - explode:
      raise:
        error:
          type: https://example.com/errors/boom
          status: 500
          title: Boom
          detail: it went off
"""

SLEEPY = """\
document:
  dsl: '1.0.3'
  namespace: test
  name: sleepy
  version: '1.0.0'
do:
  - nap:
      wait:
        hours: 1
"""


@dataclass
class Served:
    """``podium serve`` in this process: the app under uvicorn on a free port
    (streams need a real server: httpx's ASGI transport buffers whole responses)."""

    base: str  # http://127.0.0.1:<port>/api/v1
    app: FastAPI
    runtime: Runtime
    server: Any  # uvicorn.Server


@contextlib.asynccontextmanager
async def served(store_url: str, **options: Any) -> AsyncIterator[Served]:
    import uvicorn

    from podium.server import stop_streams

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the test runner's signals stay its own
            yield

    port = free_port()
    store = open_store(store_url)
    await store.open()
    try:
        async with Runtime(store=store) as runtime:
            app = create_app(runtime, ServerSettings(store_url=store_url, **options))
            server = Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
            serving = asyncio.create_task(server.serve())
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.01)
            try:
                yield Served(f"http://127.0.0.1:{port}/api/v1", app, runtime, server)
            finally:
                stop_streams(app)
                server.should_exit = True
                await asyncio.wait_for(serving, 10)
    finally:
        await store.close()


@dataclass
class Event:
    event: str
    data: Any
    id: str | None


async def events(response: httpx.Response) -> AsyncIterator[Event | str]:
    """The server-sent events of a streamed response, parsed (``data`` as JSON),
    and its comments (pings) as strings."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield line
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            yield Event(fields.get("event", "message"), json.loads(fields["data"]),
                        fields.get("id"))
            fields = {}
