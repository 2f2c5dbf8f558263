"""The dashboard over a real store (both backends), reached through httpx's ASGI
transport; instances are run to their end in this process (no worker)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from podium import Runtime
from podium.server import ServerSettings, create_app
from podium.store import InstanceRecord, Store, open_store
from tests.server.conftest import OPERATOR, TOKENS, VIEWER

SHOP = """\
document:
  dsl: '1.0.3'
  namespace: shop
  name: order
  version: '1.0.0'
do:
  - validate:
      set:
        order: ${ .id }
        amount: ${ .amount }
  - route:
      switch:
        - refused:
            when: .amount < 0
            then: refuse
        - default:
            then: continue
  - accept:
      set:
        accepted: true
      then: end
  - refuse:
      raise:
        error:
          type: https://example.com/errors/amount
          status: 400
          title: Amount refused
          detail: ${ "the amount " + (.amount | tostring) + " is negative" }
"""


@dataclass
class Dashboard:
    client: httpx.AsyncClient
    runtime: Runtime
    store: Store

    async def run(self, data: Any, document: str = SHOP) -> InstanceRecord:
        """Run an instance to its end; its record as stored."""
        execution = await self.runtime.execute(document, data)
        record = await self.store.get_instance(execution.id)
        assert record is not None
        return record

    async def csrf(self, path: str = "/instances") -> str:
        return csrf_of((await self.client.get(path)).text)

    async def sign_in(self, token: str) -> httpx.Response:
        page = await self.client.get("/login")
        return await self.client.post("/login", data={
            "csrf": csrf_of(page.text), "token": token, "next": "/"})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def dashboard_for(store_url: str, tokens: dict[str, str]) -> AsyncIterator[Dashboard]:
    store = open_store(store_url)
    await store.open()
    try:
        async with Runtime(store=store) as runtime:
            app = create_app(runtime, ServerSettings(store_url=store_url, tokens=tokens))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://testserver") as client:
                yield Dashboard(client, runtime, store)
    finally:
        await store.close()


@pytest.fixture
async def dashboard(store_url: str) -> AsyncIterator[Dashboard]:
    """The open dashboard (no tokens: a server on loopback)."""
    async for opened in dashboard_for(store_url, {}):
        yield opened


@pytest.fixture
async def guarded(store_url: str) -> AsyncIterator[Dashboard]:
    """A dashboard behind tokens (viewer and operator), not signed in yet."""
    async for opened in dashboard_for(store_url, TOKENS):
        yield opened


__all__ = ["OPERATOR", "VIEWER", "Dashboard", "csrf_of"]
