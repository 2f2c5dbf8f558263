"""Rules every request meets, on both stores: text with NUL (U+0000), which
PostgreSQL cannot store, is refused as a problem naming where it is (never a
503); a method a path does not have is a 405 listing those it has."""

from __future__ import annotations

import json

import httpx

from tests.server.test_api import deploy, problem


async def test_nul_in_an_input_an_event_a_key_or_a_path(api: httpx.AsyncClient) -> None:
    await deploy(api)
    body = problem(await api.post("/instances", json={"workflow": "test/greet",
                                                      "input": {"items": ["ok", "a\x00b"]}}),
                   400)
    assert body["detail"].endswith("/items/1: text with NUL (U+0000) cannot be stored")
    body = problem(await api.post("/instances", json={"workflow": "test/greet", "key": "k\x00"}),
                   422)
    assert body["field"] == "body.key"
    event = {"specversion": "1.0", "id": "e\x00", "source": "/test", "type": "test.thing"}
    body = problem(await api.post("/events", content=json.dumps(event),
                                  headers={"Content-Type": "application/cloudevents+json"}), 400)
    assert "event 1: /id: text with NUL" in body["detail"]
    for path in ("/instances/a%00b", "/instances/a%00b/history", "/definitions/t%00/greet"):
        problem(await api.get(path), 404)
    assert (await api.get("/instances")).json()["items"] == []


async def test_a_method_not_allowed_lists_every_method_of_the_path(
    api: httpx.AsyncClient,
) -> None:
    response = await api.request("OPTIONS", "/definitions")
    problem(response, 405)
    assert response.headers["allow"] == "GET, POST"
    response = await api.put("/instances/some-id")
    problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET"
    response = await api.request("OPTIONS", "/instances/purge")  # not an instance id
    problem(response, 405)
    assert response.headers["allow"] == "POST"
