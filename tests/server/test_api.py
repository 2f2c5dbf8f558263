"""The REST API over both stores: definitions, instances, control, events,
auth roles, limits and the problem shape of every error."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.server.conftest import GREET, OPERATOR, VIEWER, auth

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


async def deploy(api: httpx.AsyncClient, text: str = GREET) -> httpx.Response:
    return await api.post("/definitions", content=text,
                          headers={"Content-Type": "application/yaml"})


async def started(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    await deploy(api)
    response = await api.post("/instances", json={"workflow": "test/greet", **body})
    assert response.status_code == 201, response.text
    shown: dict[str, Any] = response.json()
    return shown


# definitions -------------------------------------------------------------------------------


async def test_deploy_then_list_and_get_definitions(api: httpx.AsyncClient) -> None:
    first = await deploy(api)
    assert first.status_code == 201
    assert first.json() | {"createdAt": None} == {
        "namespace": "test", "name": "greet", "version": "1.0.0", "createdAt": None,
        "status": "deployed"}
    again = await deploy(api)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    as_json = json.dumps({"document": {"dsl": "1.0.3", "namespace": "test", "name": "greet",
                                       "version": "1.1.0"},
                          "do": [{"hello": {"set": {"message": "hey"}}}]})
    assert (await api.post("/definitions", content=as_json)).status_code == 201

    listed = (await api.get("/definitions")).json()
    assert [(d["name"], d["version"]) for d in listed] == [("greet", "1.0.0"), ("greet", "1.1.0")]
    one = (await api.get("/definitions/test/greet")).json()
    assert [v["version"] for v in one["versions"]] == ["1.0.0", "1.1.0"]
    assert one["latest"]["version"] == "1.1.0"
    assert one["latest"]["document"]["do"][0]["hello"]["set"]["message"] == "hey"
    pinned = (await api.get("/definitions/test/greet/1.0.0")).json()
    assert pinned["document"]["do"][0]["hello"]["set"] == {"message": "hi"}


async def test_an_invalid_workflow_is_a_400_with_line_and_column(api: httpx.AsyncClient) -> None:
    body = problem(await deploy(api, GREET.replace("set:", "sett:")), 400)
    assert body["problems"] and body["problems"][0].startswith("request:7:")
    assert (await api.get("/definitions")).json() == []


async def test_a_one_line_body_is_never_read_as_a_path(api: httpx.AsyncClient) -> None:
    body = problem(await api.post("/definitions", content="/etc/hostname"), 400)
    assert body["type"].endswith("invalid-workflow")


async def test_another_document_under_a_deployed_version_is_409(api: httpx.AsyncClient) -> None:
    await deploy(api)
    body = problem(await deploy(api, GREET.replace("message: hi", "message: ho")), 409)
    assert "document.version" in body["detail"]


async def test_unknown_definitions_are_404(api: httpx.AsyncClient) -> None:
    problem(await api.get("/definitions/test/nope"), 404)
    problem(await api.get("/definitions/test/greet/9.9.9"), 404)
    problem(await api.post("/instances", json={"workflow": "test/nope"}), 404)


# instances ---------------------------------------------------------------------------------


async def test_start_get_list_and_history(api: httpx.AsyncClient) -> None:
    shown = await started(api, input={"who": "me"})
    assert shown["status"] == "pending" and shown["input"] == {"who": "me"}
    assert shown["workflow"] == {"namespace": "test", "name": "greet", "version": "1.0.0"}
    got = (await api.get(f"/instances/{shown['id']}")).json()
    assert got["id"] == shown["id"] and got["status"] == "pending"
    second = await started(api)
    listed = (await api.get("/instances")).json()
    assert [i["id"] for i in listed["items"]] == [second["id"], shown["id"]]
    assert listed["next"] is None
    assert (await api.get("/instances", params={"status": "completed"})).json() == {
        "items": [], "next": None}
    assert len((await api.get("/instances", params={"limit": 1})).json()["items"]) == 1
    history = await api.get(f"/instances/{shown['id']}/history")
    assert history.status_code == 200 and history.json() == {"items": [], "next": None}


async def test_start_is_idempotent_by_key_or_header(api: httpx.AsyncClient) -> None:
    first = await started(api, key="order-1")
    again = await api.post("/instances", json={"workflow": "test/greet:1.0.0", "key": "order-1"})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    by_header = await api.post("/instances", json={"workflow": "test/greet"},
                               headers={"Idempotency-Key": "order-2"})
    assert by_header.status_code == 201 and by_header.json()["key"] == "order-2"
    repeated = await api.post("/instances", json={"workflow": "test/greet"},
                              headers={"Idempotency-Key": "order-2"})
    assert repeated.status_code == 200 and repeated.json()["id"] == by_header.json()["id"]


async def test_an_invalid_start_body_is_422_naming_the_field(api: httpx.AsyncClient) -> None:
    body = problem(await api.post("/instances", json={"input": 1}), 422)
    assert "workflow" in body["detail"]
    body = problem(await api.post("/instances", json={"workflow": "no slash"}), 422)
    assert body["field"] == "body.workflow"
    problem(await api.get("/instances", params={"status": "bogus"}), 422)


async def test_unknown_instances_are_404(api: httpx.AsyncClient) -> None:
    for path in ("/instances/nope", "/instances/nope/history"):
        body = problem(await api.get(path), 404)
        assert body["instance"] == f"/api/v1{path}"
    problem(await api.post("/instances/nope/cancel"), 404)
    problem(await api.get("/no/such/route"), 404)


async def test_script_in_an_input_comes_back_as_json_data(api: httpx.AsyncClient) -> None:
    hostile = "<script>alert(1)</script>"
    shown = await started(api, input={"name": hostile})
    response = await api.get(f"/instances/{shown['id']}")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["input"] == {"name": hostile}


async def test_control_records_who_asked_and_409_once_ended(api: httpx.AsyncClient) -> None:
    shown = await started(api)
    suspended = await api.post(f"/instances/{shown['id']}/suspend")
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    resumed = await api.post(f"/instances/{shown['id']}/resume")
    assert resumed.json()["status"] == "pending"
    cancelled = await api.post(f"/instances/{shown['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    body = problem(await api.post(f"/instances/{shown['id']}/cancel"), 409)
    assert "ended" in body["detail"]
    problem(await api.post(f"/instances/{shown['id']}/retry"), 409)
    history = (await api.get(f"/instances/{shown['id']}/history")).json()["items"]
    audit = [entry["data"]["by"] for entry in history if "by" in (entry["data"] or {})]
    assert len(audit) == 3
    assert all(by.startswith("api:operator:") and len(by) == len("api:operator:") + 6
               for by in audit)
    assert OPERATOR not in json.dumps(history)


# auth and limits ---------------------------------------------------------------------------


async def test_roles(anonymous: httpx.AsyncClient) -> None:
    body = problem(await anonymous.get("/instances"), 401)
    assert "bearer" in body["detail"]
    problem(await anonymous.get("/instances", headers=auth("wrong")), 401)
    assert (await anonymous.get("/instances", headers=auth(VIEWER))).status_code == 200
    assert (await anonymous.get("/health", headers=auth(VIEWER))).status_code == 200
    refused = await anonymous.post("/definitions", content=GREET, headers=auth(VIEWER))
    assert problem(refused, 403)["detail"].startswith("the role viewer")
    problem(await anonymous.post("/events", json={}, headers=auth(VIEWER)), 403)
    assert (await anonymous.post("/definitions", content=GREET,
                                 headers=auth(OPERATOR))).status_code == 201
    assert (await anonymous.get("/openapi.json")).status_code == 200
    assert (await anonymous.get("http://testserver/api/docs")).status_code == 200


async def test_a_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    body = problem(await api.post("/definitions", content=GREET + "#" * 5000), 413)
    assert "4,096 bytes" in body["detail"]

    async def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b"x" * 1000

    problem(await api.post("/events", content=chunks()), 413)


async def test_health_names_the_store_without_password(api: httpx.AsyncClient) -> None:
    health = (await api.get("/health")).json()
    assert health["status"] == "ok" and health["version"]
    assert health["store"].split(":")[0] in ("sqlite", "postgresql")


# events ------------------------------------------------------------------------------------


def _event(number: int) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"e{number}", "source": "/test", "type": "test.thing",
            "datacontenttype": "application/json", "data": {"n": number}}


async def test_events_in_three_modes_with_dedup(api: httpx.AsyncClient) -> None:
    structured = await api.post("/events", content=json.dumps(_event(1)),
                                headers={"Content-Type": "application/cloudevents+json"})
    assert structured.status_code == 202
    assert structured.json() == {"stored": ["e1"], "duplicates": []}
    batch = await api.post("/events", content=json.dumps([_event(1), _event(2)]),
                           headers={"Content-Type": "application/cloudevents-batch+json"})
    assert batch.json() == {"stored": ["e2"], "duplicates": ["e1"]}
    binary = await api.post("/events", content=b'{"n": 3}', headers={
        "ce-specversion": "1.0", "ce-id": "e3", "ce-source": "/test", "ce-type": "test.thing",
        "Content-Type": "application/json"})
    assert binary.json() == {"stored": ["e3"], "duplicates": []}


async def test_an_invalid_event_stores_nothing(api: httpx.AsyncClient) -> None:
    broken = _event(5)
    del broken["type"]
    body = problem(await api.post("/events", json=[_event(4), broken], headers={
        "Content-Type": "application/cloudevents-batch+json"}), 400)
    assert "type" in body["detail"]
    again = await api.post("/events", content=json.dumps(_event(4)),
                           headers={"Content-Type": "application/cloudevents+json"})
    assert again.json() == {"stored": ["e4"], "duplicates": []}


async def test_a_failing_store_is_a_503_without_its_password(store_url: str) -> None:
    from podium import Runtime
    from podium.server import ServerSettings, create_app
    from podium.store import open_store

    store = open_store(store_url)
    await store.open()
    async with Runtime(store=store) as runtime:
        app = create_app(runtime, ServerSettings(store_url=store_url))
        await store.close()  # the store goes away under the running API
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver/api/v1") as client:
            body = problem(await client.get("/instances"), 503)
    assert body["type"].endswith("store-unavailable")
