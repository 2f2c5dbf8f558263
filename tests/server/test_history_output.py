"""An instance's history in pages, with secrets as ***, and its output: 200 once
completed, 409 otherwise (a faulted one naming its error), on both stores."""

from __future__ import annotations

from typing import Any

import httpx

from podium import Runtime
from podium.store import open_store
from tests.durability.helpers import runtime_on
from tests.server.conftest import FAILING, VIEWER, auth
from tests.server.test_api import problem, started

STEPS = """\
document: {dsl: '1.0.3', namespace: test, name: steps, version: '1.0.0'}
do:
  - one: {set: {n: 1, at: '${ now }'}}
  - two: {set: {n: 2, at: '${ now }'}}
  - three: {set: {n: 3, at: '${ now }'}}
"""

SECRETIVE = """\
document: {dsl: '1.0.3', namespace: test, name: secretive, version: '1.0.0'}
use:
  secrets: [apiKey]
do:
  - grab:
      set:
        header: '${ "Bearer " + $secrets.apiKey }'
"""
SECRET = "s3cret-value-123"


async def pages(api: httpx.AsyncClient, instance_id: str, **params: Any) -> list[list[int]]:
    """The seqs of every page, following ``next``."""
    walked: list[list[int]] = []
    while True:
        body = (await api.get(f"/instances/{instance_id}/history", params=params)).json()
        walked.append([entry["seq"] for entry in body["items"]])
        if body["next"] is None:
            return walked
        assert body["next"] == walked[-1][-1]
        params["after"] = body["next"]


async def test_history_in_pages(api: httpx.AsyncClient, store_url: str) -> None:
    async with runtime_on(store_url, "test-worker") as runtime:
        execution = await runtime.execute(STEPS)
    everything = (await api.get(f"/instances/{execution.id}/history")).json()
    seqs = [entry["seq"] for entry in everything["items"]]
    assert everything["next"] is None and seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= 6  # started and completed, for each of the three steps
    assert {"seq", "at", "position", "kind", "data", "worker"} <= everything["items"][0].keys()

    walked = await pages(api, execution.id, limit=4)
    assert [seq for page in walked for seq in page] == seqs
    assert all(len(page) == 4 for page in walked[:-1]) and walked[-1]
    assert await pages(api, execution.id, after=seqs[-3], limit=3) == [seqs[-2:]]
    assert await pages(api, execution.id, after=seqs[-1]) == [[]]


async def test_history_shows_secrets_as_stars(api: httpx.AsyncClient, store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    try:
        async with Runtime(store=store, secrets={"apiKey": SECRET}) as runtime:
            execution = await runtime.execute(SECRETIVE)
    finally:
        await store.close()
    history = await api.get(f"/instances/{execution.id}/history")
    completed = [e for e in history.json()["items"] if e["kind"] == "task.completed"]
    assert completed[0]["data"]["output"] == {"header": "Bearer ***"}
    output = await api.get(f"/instances/{execution.id}/output")
    assert output.json() == {"header": "Bearer ***"}
    for path in ("", "/history", "/output"):
        assert SECRET not in (await api.get(f"/instances/{execution.id}{path}")).text


async def test_bad_history_parameters(api: httpx.AsyncClient) -> None:
    shown = await started(api)
    for params, field in (({"after": -1}, "query.after"), ({"limit": 0}, "query.limit"),
                          ({"limit": 1001}, "query.limit"), ({"after": 2**63}, "query.after")):
        body = problem(await api.get(f"/instances/{shown['id']}/history", params=params), 422)
        assert body["field"] == field
    problem(await api.get("/instances/nope/history"), 404)


async def test_output_of_a_completed_instance(api: httpx.AsyncClient, store_url: str) -> None:
    async with runtime_on(store_url, "test-worker") as runtime:
        execution = await runtime.execute(STEPS)
    response = await api.get(f"/instances/{execution.id}/output", headers=auth(VIEWER))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["n"] == 3


async def test_no_output_until_completed(api: httpx.AsyncClient, store_url: str) -> None:
    pending = await started(api)
    body = problem(await api.get(f"/instances/{pending['id']}/output"), 409)
    assert "pending" in body["detail"]
    async with runtime_on(store_url, "test-worker") as runtime:
        faulted = await runtime.execute(FAILING)
    body = problem(await api.get(f"/instances/{faulted.id}/output"), 409)
    assert "faulted: Boom (it went off)" in body["detail"]
    assert body["error"]["type"] == "https://example.com/errors/boom"
    await api.post(f"/instances/{pending['id']}/cancel")
    assert "cancelled" in problem(await api.get(f"/instances/{pending['id']}/output"),
                                  409)["detail"]
    problem(await api.get("/instances/nope/output"), 404)
