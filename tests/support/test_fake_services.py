from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_services import FakeServices


@pytest.fixture
def client(fake_services: FakeServices) -> Iterator[httpx.Client]:
    fake_services.reset()
    with httpx.Client(base_url=fake_services.url) as client:
        yield client


def test_find_by_status_filters(client: httpx.Client) -> None:
    response = client.get("/petstore/v2/pet/findByStatus", params={"status": "available"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    pets = response.json()
    assert pets
    assert {pet["status"] for pet in pets} == {"available"}
    assert {"id", "name", "status", "category", "tags"} <= pets[0].keys()


def test_get_pet_by_id(client: httpx.Client) -> None:
    pet = client.get("/petstore/v2/pet/1").json()
    assert pet["id"] == 1
    assert pet["name"] == "doggie-1"
    assert client.get("/petstore/v2/pet/2").json()["id"] == 2


@pytest.mark.parametrize("path", ["/pet/11", "/pet/Milou", "/pet/getPetByName/Milou"])
def test_unknown_pet_is_json_404(client: httpx.Client, path: str) -> None:
    response = client.get("/petstore/v2" + path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "message" in response.json()


def test_add_pet_echoes(client: httpx.Client) -> None:
    response = client.post("/petstore/v2/pet", json={"name": "rex", "photoUrls": []})
    assert response.status_code == 200
    assert response.json()["name"] == "rex"
    assert "id" in response.json()


def test_swagger_document(client: httpx.Client, fake_services: FakeServices) -> None:
    document = client.get("/petstore/v2/swagger.json").json()
    assert document["swagger"] == "2.0"
    assert f"http://{document['host']}{document['basePath']}" == fake_services.petstore_url
    operation_ids = {
        operation["operationId"]
        for path in document["paths"].values()
        for operation in path.values()
    }
    assert operation_ids == {"findPetsByStatus", "getPetById", "addPet"}


def test_basic_auth(client: httpx.Client) -> None:
    ok = client.get("/httpbin/basic-auth/alice/secret", auth=("alice", "secret"))
    assert ok.status_code == 200
    assert ok.json() == {"authenticated": True, "user": "alice"}
    denied = client.get("/httpbin/basic-auth/alice/secret", auth=("alice", "wrong"))
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"].startswith("Basic")
    assert client.get("/httpbin/basic-auth/alice/secret").status_code == 401


def test_bearer(client: httpx.Client) -> None:
    ok = client.get("/httpbin/bearer", headers={"Authorization": "Bearer x"})
    assert ok.json() == {"authenticated": True, "token": "x"}
    assert client.get("/httpbin/bearer").status_code == 401


def test_anything_echoes(client: httpx.Client) -> None:
    echo = client.put("/httpbin/anything/a/b", params={"q": "1"}, json={"k": [1]}).json()
    assert echo["method"] == "PUT"
    assert echo["args"] == {"q": "1"}
    assert echo["json"] == {"k": [1]}
    assert echo["url"].endswith("/httpbin/anything/a/b?q=1")
    assert echo["headers"]["Content-Type"] == "application/json"
    form = client.post("/httpbin/anything", data={"a": "1"}).json()
    assert form["form"] == {"a": "1"}


def test_status(client: httpx.Client) -> None:
    assert client.get("/httpbin/status/503").status_code == 503
    assert client.delete("/httpbin/status/204").status_code == 204


def test_redirect_to(client: httpx.Client) -> None:
    response = client.get("/httpbin/redirect-to", params={"url": "/httpbin/headers"})
    assert response.status_code == 302
    assert response.headers["location"] == "/httpbin/headers"
    followed = client.get(
        "/httpbin/redirect-to",
        params={"url": "/httpbin/headers", "status_code": "307"},
        follow_redirects=True,
    )
    assert followed.status_code == 200
    assert "Host" in followed.json()["headers"]


def test_bytes_html_delay(client: httpx.Client) -> None:
    blob = client.get("/httpbin/bytes/16")
    assert blob.headers["content-type"] == "application/octet-stream"
    assert len(blob.content) == 16
    assert blob.content == client.get("/httpbin/bytes/16").content
    page = client.get("/httpbin/html")
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/httpbin/delay/0.1").json()["method"] == "GET"


def test_requests_are_recorded(client: httpx.Client, fake_services: FakeServices) -> None:
    token = base64.b64encode(b"u:p").decode()
    client.get("/petstore/v2/pet/1", headers={"Authorization": f"Basic {token}"})
    client.get("/petstore/v2/pet/1")
    assert fake_services.hits["/petstore/v2/pet/1"] == 2
    method, path, headers = fake_services.requests[0]
    assert (method, path) == ("GET", "/petstore/v2/pet/1")
    assert headers["authorization"] == f"Basic {token}"


def test_stop_closes_the_port() -> None:
    services = FakeServices()
    with services:
        url = services.url
        assert httpx.get(f"{url}/httpbin/status/200").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/httpbin/status/200")
