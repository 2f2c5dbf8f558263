"""An API client over a real store (both backends): the app in this process,
reached through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from podium import Runtime
from podium.server import ServerSettings, create_app
from podium.store import open_store

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
