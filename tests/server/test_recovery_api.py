"""``POST /instances/{id}/retry`` and ``/rerun`` with a worker running the
instances, as ``podium serve`` does, on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from podium import Runtime
from podium.server import ServerSettings, create_app
from podium.store import open_store
from tests.durability.helpers import working
from tests.server.conftest import OPERATOR, TOKENS, VIEWER, auth

# Faults while the input says so: a retry after fixing nothing faults again at
# the same task, a re-run from `charge` with the original input does too.
CHECKOUT = """\
document: {dsl: '1.0.3', namespace: shop, name: checkout, version: '1.0.0'}
do:
  - reserve:
      set: {reserved: '${ .items }'}
  - charge:
      switch:
        - declined: {when: '${ .reserved > 2 }', then: decline}
        - fine: {then: ship}
  - decline:
      raise:
        error: {type: https://shop.example/declined, status: 402, title: Card declined}
  - ship:
      set: {shipped: '${ .reserved }'}
"""


@pytest.fixture
async def served(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    store = open_store(store_url)
    await store.open()
    try:
        async with Runtime(store=store) as runtime, working(runtime):
            app = create_app(runtime, ServerSettings(store_url=store_url, tokens=TOKENS))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, headers=auth(OPERATOR),
                                         base_url="http://testserver/api/v1") as client:
                assert (await client.post("/definitions", content=CHECKOUT)).status_code == 201
                yield client
    finally:
        await store.close()


async def _ended(client: httpx.AsyncClient, instance_id: str) -> dict[str, Any]:
    for _ in range(200):
        shown: dict[str, Any] = (await client.get(f"/instances/{instance_id}")).json()
        if shown["status"] in ("completed", "faulted", "cancelled"):
            return shown
        await asyncio.sleep(0.05)
    raise AssertionError(f"instance {instance_id} did not end: {shown}")


async def _faulted(client: httpx.AsyncClient) -> dict[str, Any]:
    started = await client.post("/instances", json={"workflow": "shop/checkout",
                                                    "input": {"items": 3}})
    shown = await _ended(client, started.json()["id"])
    assert shown["status"] == "faulted" and shown["error"]["instance"] == "/do/2/decline"
    return shown


async def test_retry_a_faulted_instance(served: httpx.AsyncClient) -> None:
    faulted = await _faulted(served)
    retried = await served.post(f"/instances/{faulted['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] in ("pending", "running",
                                                                       "faulted")
    again = await _ended(served, faulted["id"])
    assert again["status"] == "faulted" and again["error"]["instance"] == "/do/2/decline"
    history = (await served.get(f"/instances/{faulted['id']}/history")).json()["items"]
    (line,) = [e for e in history if e["kind"] == "instance.retried"]
    assert line["data"]["after"] == "fault" and line["data"]["by"].startswith("api:operator:")
    # `reserve` completed once: the retry replayed it.
    reserved = [e for e in history if e["position"] == "/do/0/reserve"
                and e["kind"] == "task.completed"]
    assert len(reserved) == 1


async def test_rerun_from_a_task(served: httpx.AsyncClient) -> None:
    faulted = await _faulted(served)
    response = await served.post(f"/instances/{faulted['id']}/rerun",
                                 json={"from": "/do/1/charge"}, headers={"Idempotency-Key": "r1"})
    assert response.status_code == 201, response.text
    rerun = response.json()
    assert rerun["id"] != faulted["id"] and rerun["key"] == "r1"
    assert rerun["workflow"] == faulted["workflow"] and rerun["input"] == {"items": 3}
    same = await served.post(f"/instances/{faulted['id']}/rerun",
                             json={"from": "/do/1/charge"}, headers={"Idempotency-Key": "r1"})
    assert (same.status_code, same.json()["id"]) == (200, rerun["id"])
    ended = await _ended(served, rerun["id"])
    assert ended["status"] == "faulted" and ended["error"]["instance"] == "/do/2/decline"


async def test_recovery_problems(served: httpx.AsyncClient, store_url: str) -> None:
    faulted = await _faulted(served)
    never = await served.post(f"/instances/{faulted['id']}/rerun", json={"from": "/do/3/ship"})
    assert never.status_code == 409
    assert never.headers["content-type"] == "application/problem+json"
    assert "/do/3/ship never ran" in never.json()["detail"]
    missing = await served.post("/instances/nope/rerun", json={"from": "/do/0/reserve"})
    assert missing.status_code == 404
    empty = await served.post(f"/instances/{faulted['id']}/rerun", json={"from": ""})
    assert empty.status_code == 422
    viewer = await served.post(f"/instances/{faulted['id']}/retry", headers=auth(VIEWER))
    assert viewer.status_code == 403
    started = await served.post("/instances", json={"workflow": "shop/checkout",
                                                    "input": {"items": 1}})
    done = await _ended(served, started.json()["id"])
    assert done["status"] == "completed"
    refused = await served.post(f"/instances/{done['id']}/retry")
    assert refused.status_code == 409 and "not faulted" in refused.json()["detail"]
