"""GET /instances: every filter, cursor pages (no duplicate, no gap, whatever is
started meanwhile), and the 422 of a bad parameter naming it, on both stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.durability.helpers import runtime_on
from tests.server.conftest import FAILING, GREET, VIEWER, auth
from tests.server.test_api import deploy, problem

OTHER = GREET.replace("name: greet", "name: other")


async def start(api: httpx.AsyncClient, workflow: str = "test/greet", **body: Any) -> str:
    response = await api.post("/instances", json={"workflow": workflow, **body})
    assert response.status_code == 201, response.text
    instance_id: str = response.json()["id"]
    return instance_id


async def ids(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/instances", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def test_every_filter(api: httpx.AsyncClient, store_url: str) -> None:
    await deploy(api)
    await deploy(api, OTHER)
    await deploy(api, GREET.replace("'1.0.0'", "'2.0.0'"))
    first = await start(api, "test/greet:1.0.0", key="Order-17")
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    newer = await start(api, "test/greet:2.0.0", key="refund-3")
    other = await start(api, "test/other")
    async with runtime_on(store_url, "test-worker") as runtime:
        faulted = (await runtime.execute(FAILING)).id
    ended = datetime.now(UTC)

    assert await ids(api) == [faulted, other, newer, first]
    assert await ids(api, workflow="test/greet") == [newer, first]
    assert await ids(api, workflow="test/greet", version="1.0.0") == [first]
    assert await ids(api, version="2.0.0") == [newer]
    assert await ids(api, status="faulted") == [faulted]
    assert await ids(api, status="pending", workflow="test/other") == [other]
    assert await ids(api, key="Order-17") == [first]
    assert await ids(api, key="order-17") == []  # a key is exact; q is not
    assert await ids(api, q="order-1") == [first]
    assert await ids(api, q=faulted[-6:].upper()) == [faulted]
    assert await ids(api, created_before=stamp(between)) == [first]
    assert await ids(api, created_after=stamp(between)) == [faulted, other, newer]
    assert await ids(api, ended_after=stamp(between)) == [faulted]
    assert await ids(api, ended_before=stamp(ended - timedelta(minutes=1))) == []
    # other offsets than Z are the same moment
    local = between.astimezone(datetime.now().astimezone().tzinfo).isoformat()
    assert await ids(api, created_before=local) == [first]


async def test_pages_walk_without_duplicates_or_gaps(api: httpx.AsyncClient) -> None:
    await deploy(api)
    before = [await start(api) for _ in range(7)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    pages = 0
    while True:
        body = (await api.get("/instances", params=params)).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        # Started while paging: newer than the walk, so never in it.
        await start(api)
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert seen == list(reversed(before))
    assert pages == 3 and len(set(seen)) == 7
    # A full last page says so: no empty page after it.
    walked = (await api.get("/instances", params={"limit": 3, "workflow": "test/greet",
                                                  "cursor": params["cursor"]})).json()
    assert len(walked["items"]) == 1 and walked["next"] is None


async def test_a_last_page_that_is_full_has_no_next(api: httpx.AsyncClient) -> None:
    await deploy(api)
    for _ in range(4):
        await start(api)
    first = (await api.get("/instances", params={"limit": 2})).json()
    second = (await api.get("/instances", params={"limit": 2, "cursor": first["next"]})).json()
    assert len(second["items"]) == 2 and second["next"] is None


@pytest.mark.parametrize(("params", "field"), [
    ({"created_after": "yesterday"}, "query.created_after"),
    ({"created_before": "2026-01-01T00:00:00"}, "query.created_before"),  # no offset
    ({"ended_after": "2026-13-01T00:00:00Z"}, "query.ended_after"),
    ({"ended_before": "0001-01-01T00:00:00+01:00"}, "query.ended_before"),  # before year 1
    ({"limit": 0}, "query.limit"),
    ({"limit": 1001}, "query.limit"),
    ({"cursor": "page-2"}, "query.cursor"),
    ({"cursor": "0001-01-01T00:00:00+05:00~x"}, "query.cursor"),
    ({"workflow": "greet"}, "query.workflow"),
    ({"workflow": "test/greet:1.0.0"}, "query.workflow"),  # the version is `version`
    ({"status": "done"}, "query.status"),
    ({"q": "a\x00b"}, "query.q"),
])
async def test_a_bad_parameter_is_a_422_naming_it(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = problem(await api.get("/instances", params=params), 422)
    assert body["field"] == field
    assert body["detail"].startswith(field)
    assert body["type"].endswith("/invalid-request")


async def test_a_viewer_lists_and_nobody_else(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/instances", headers=auth(VIEWER))).json() == {
        "items": [], "next": None}
    problem(await anonymous.get("/instances"), 401)
