"""Bulk actions on a filter: the dead-letter queue (the faulted instances of a
workflow) retried or cancelled, suspend and resume, each instance's history
naming the caller; at least status or workflow; at most ``max``. Both stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from podium import load
from podium.store import open_store
from tests.durability.helpers import runtime_on
from tests.server.conftest import FAILING, SLEEPY, VIEWER, auth
from tests.server.test_api import problem


async def dead_letters(store_url: str, count: int) -> tuple[list[str], str]:
    """``count`` instances faulted by their workflow (a ``raise``), and one faulted
    by quarantine (a worker crashed under it: crashes counted), of test/boom."""
    async with runtime_on(store_url, "test-worker") as runtime:
        faulted = [(await runtime.execute(FAILING)).id for _ in range(count)]
        poison, _ = await runtime.create_instance(load(FAILING), {})
    store = open_store(store_url)
    await store.open()
    try:
        await store.update_instance(poison.id, status="faulted", crashes=3,
                                    ended_at=datetime.now(UTC))
    finally:
        await store.close()
    return faulted, poison.id


async def history(api: httpx.AsyncClient, instance_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await api.get(f"/instances/{instance_id}/history")).json()["items"]
    return items


async def by_of(api: httpx.AsyncClient, instance_id: str, kind: str) -> list[str]:
    return [entry["data"]["by"] for entry in await history(api, instance_id)
            if entry["kind"] == kind]


async def test_retry_then_cancel_the_dead_letter_queue(
    api: httpx.AsyncClient, store_url: str
) -> None:
    faulted, poison = await dead_letters(store_url, 3)
    dlq = {"status": "faulted", "workflow": "test/boom"}
    response = await api.post("/instances/bulk/retry", json=dlq)
    assert response.status_code == 200, response.text
    body = response.json()
    # Faulted by their workflow or by quarantine: each goes again, newest first.
    assert body == {"matched": 4, "done": [poison, *reversed(faulted)], "failed": []}
    for instance_id in body["done"]:
        assert (await api.get(f"/instances/{instance_id}")).json()["status"] == "pending"
        (by,) = await by_of(api, instance_id, "instance.retried")
        assert by.startswith("api:operator:")

    retried = {"status": "pending", "workflow": "test/boom"}
    cancelled = (await api.post("/instances/bulk/cancel", json=retried)).json()
    assert sorted(cancelled["done"]) == sorted(body["done"]) and cancelled["failed"] == []
    for instance_id in cancelled["done"]:
        assert (await api.get(f"/instances/{instance_id}")).json()["status"] == "cancelled"
        assert (await by_of(api, instance_id, "instance.cancelled"))[0].startswith("api:")
    again = (await api.post("/instances/bulk/cancel", json=retried)).json()
    assert again == {"matched": 0, "done": [], "failed": []}


async def test_an_action_that_does_not_apply_is_reported_per_instance(
    api: httpx.AsyncClient, store_url: str
) -> None:
    faulted, poison = await dead_letters(store_url, 2)
    body = (await api.post("/instances/bulk/cancel",
                           json={"status": "faulted", "workflow": "test/boom"})).json()
    assert body["matched"] == 3 and body["done"] == []
    assert sorted(item["id"] for item in body["failed"]) == sorted([*faulted, poison])
    for item in body["failed"]:
        assert item["problem"]["status"] == 409
        assert item["problem"]["instance"] == f"/api/v1/instances/{item['id']}/cancel"
        assert "ended" in item["problem"]["detail"]
        # what the single action answers
        single = problem(await api.post(f"/instances/{item['id']}/cancel"), 409)
        assert single == item["problem"]


async def test_suspend_and_resume_at_most_max(api: httpx.AsyncClient, store_url: str) -> None:
    async with runtime_on(store_url, "test-worker") as runtime:
        sleepy = [(await runtime.create_instance(load(SLEEPY), {}))[0].id for _ in range(3)]
    chosen = {"workflow": "test/sleepy", "max": 2}
    suspended = (await api.post("/instances/bulk/suspend", json=chosen)).json()
    assert suspended == {"matched": 2, "done": sleepy[:0:-1], "failed": []}  # newest first
    statuses = {i["id"]: i["status"] for i in (await api.get("/instances")).json()["items"]}
    assert statuses == {sleepy[0]: "pending", sleepy[1]: "suspended", sleepy[2]: "suspended"}
    resumed = (await api.post("/instances/bulk/resume",
                              json={"status": "suspended", "workflow": "test/sleepy"})).json()
    assert sorted(resumed["done"]) == sorted(sleepy[1:])
    for instance_id in sleepy[1:]:
        assert (await by_of(api, instance_id, "instance.resumed"))[0].startswith("api:")


async def test_a_bulk_action_needs_status_or_workflow(api: httpx.AsyncClient) -> None:
    for body in ({}, {"key": "k"}, {"q": "x", "max": 5}, {"status": None}):
        refused = problem(await api.post("/instances/bulk/cancel", json=body), 422)
        assert "status or workflow" in refused["detail"]
    refused = problem(await api.post("/instances/bulk/cancel",
                                      json={"status": "pending", "stauts": "x"}), 422)
    assert refused["field"] == "body.stauts"
    refused = problem(await api.post("/instances/bulk/cancel",
                                      json={"status": "pending", "max": 0}), 422)
    assert refused["field"] == "body.max"
    problem(await api.post("/instances/bulk/delete", json={"status": "pending"}), 422)


async def test_a_viewer_cannot_act_in_bulk(anonymous: httpx.AsyncClient) -> None:
    body = {"status": "faulted"}
    problem(await anonymous.post("/instances/bulk/retry", json=body, headers=auth(VIEWER)), 403)
    problem(await anonymous.post("/instances/bulk/retry", json=body), 401)


async def test_a_bulk_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    body = problem(await api.post("/instances/bulk/cancel",
                                  json={"status": "pending", "q": "x" * 5000}), 413)
    assert body["type"].endswith("/body-too-large")
