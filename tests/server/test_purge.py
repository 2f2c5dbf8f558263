"""Purge: one ended instance (DELETE) or the ended ones of a filter, with their
history, subscriptions and mailbox; never an active one; subflows stay; the log
says who purged (the instance's own history is gone). Both stores."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from podium import load
from podium.store import open_store
from tests.durability.helpers import runtime_on
from tests.server.conftest import FAILING, GREET, SLEEPY, VIEWER, auth
from tests.server.test_api import deploy, problem, started

PARENT = """\
document: {dsl: '1.0.3', namespace: test, name: parent, version: '1.0.0'}
do:
  - child:
      run:
        workflow: {namespace: test, name: greet, version: '1.0.0'}
"""


def later() -> str:
    return (datetime.now(UTC) + timedelta(minutes=1)).isoformat()


async def test_delete_an_ended_instance(
    api: httpx.AsyncClient, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with runtime_on(store_url, "test-worker") as runtime:
        faulted = await runtime.execute(FAILING)
    assert (await api.get(f"/instances/{faulted.id}/history")).json()["items"]
    with caplog.at_level(logging.INFO, logger="podium.server"):
        response = await api.delete(f"/instances/{faulted.id}")
    assert response.status_code == 204 and response.content == b""
    problem(await api.get(f"/instances/{faulted.id}"), 404)
    problem(await api.get(f"/instances/{faulted.id}/history"), 404)
    problem(await api.delete(f"/instances/{faulted.id}"), 404)
    store = open_store(store_url)
    await store.open()
    try:
        assert await store.read_journal(faulted.id) == []
    finally:
        await store.close()
    (line,) = [r.getMessage() for r in caplog.records if "purged" in r.getMessage()]
    assert line.startswith("api:operator:") and faulted.id in line and "test/boom" in line


async def test_an_active_instance_is_not_purged(api: httpx.AsyncClient) -> None:
    shown = await started(api)
    body = problem(await api.delete(f"/instances/{shown['id']}"), 409)
    assert "pending" in body["detail"] and "cancel it first" in body["detail"]
    assert (await api.get(f"/instances/{shown['id']}")).status_code == 200
    await api.post(f"/instances/{shown['id']}/cancel")
    assert (await api.delete(f"/instances/{shown['id']}")).status_code == 204


async def test_the_subflows_of_a_purged_instance_stay(
    api: httpx.AsyncClient, store_url: str
) -> None:
    await deploy(api)
    async with runtime_on(store_url, "test-worker") as runtime:
        parent = await runtime.execute(PARENT)
    assert parent.status == "completed"
    (child,) = (await api.get("/instances", params={"workflow": "test/greet"})).json()["items"]
    assert child["parentId"] == parent.id
    assert (await api.delete(f"/instances/{parent.id}")).status_code == 204
    assert (await api.get(f"/instances/{child['id']}")).json()["parentId"] == parent.id


async def test_purge_by_filter(api: httpx.AsyncClient, store_url: str) -> None:
    async with runtime_on(store_url, "test-worker") as runtime:
        faulted = [(await runtime.execute(FAILING)).id for _ in range(3)]
        completed = (await runtime.execute(GREET)).id
        sleepy, _ = await runtime.create_instance(load(SLEEPY), {})
    pending = (await started(api))["id"]
    response = await api.post("/instances/purge", json={"ended_before": later(),
                                                          "workflow": "test/boom", "max": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"matched": 2, "done": faulted[:0:-1], "failed": []}  # newest first
    everything = await api.post("/instances/purge", json={"ended_before": later()})
    assert set(everything.json()["done"]) == {faulted[0], completed}
    left = {item["id"] for item in (await api.get("/instances")).json()["items"]}
    assert left == {sleepy.id, pending}


async def test_purge_by_filter_needs_an_end_and_known_fields(api: httpx.AsyncClient) -> None:
    body = problem(await api.post("/instances/purge", json={"workflow": "test/boom"}), 422)
    assert body["field"] == "body.ended_before"
    body = problem(await api.post("/instances/purge", json={"ended_before": later(),
                                                            "workflw": "test/boom"}), 422)
    assert body["field"] == "body.workflw"


async def test_a_viewer_cannot_purge(anonymous: httpx.AsyncClient) -> None:
    problem(await anonymous.delete("/instances/any", headers=auth(VIEWER)), 403)
    problem(await anonymous.post("/instances/purge", json={"ended_before": later()},
                                 headers=auth(VIEWER)), 403)
    problem(await anonymous.delete("/instances/any"), 401)
