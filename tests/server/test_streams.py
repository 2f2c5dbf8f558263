"""Server-sent events over a real server (uvicorn in this process), on both
stores: the instances of a filter as they change, one instance's history as it
grows until it ends, resuming with Last-Event-ID, pings, and streams that end
when the client leaves or the server stops. The worker runs on its own store
connection, as in another process: streams poll the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx

from podium.server import stop_streams
from tests.durability.helpers import eventually, runtime_on, working
from tests.server.conftest import (
    GREET,
    OPERATOR,
    TOKENS,
    VIEWER,
    Event,
    Served,
    auth,
    events,
    served,
)
from tests.server.test_api import problem

OTHER = GREET.replace("name: greet", "name: other")
FAST = {"tokens": TOKENS, "stream_poll": 0.05}


@contextlib.asynccontextmanager
async def client_of(server: Served, token: str = OPERATOR) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base, headers=auth(token),
                                 timeout=10) as client:
        yield client


async def start(client: httpx.AsyncClient, workflow: str = "test/greet") -> str:
    response = await client.post("/instances", json={"workflow": workflow})
    assert response.status_code == 201, response.text
    instance_id: str = response.json()["id"]
    return instance_id


async def until(stream: AsyncIterator[Event | str], done: object) -> list[Event]:
    """The next events of ``stream`` up to the first that ``done(event)`` accepts
    (or up to the end of the stream when ``done`` is None)."""
    seen: list[Event] = []
    async with asyncio.timeout(15):
        async for event in stream:
            if isinstance(event, Event):
                seen.append(event)
                if callable(done) and done(event):
                    break
    return seen


async def test_the_list_stream_follows_the_instances_of_its_filter(store_url: str) -> None:
    async with served(store_url, **FAST) as server, client_of(server) as client:
        await client.post("/definitions", content=GREET)
        await client.post("/definitions", content=OTHER)
        async with client.stream("GET", "/instances/stream", params={"workflow": "test/greet"},
                                 headers=auth(VIEWER)) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            feed = events(stream)
            await start(client, "test/other")
            mine = await start(client)
            async with runtime_on(store_url, "elsewhere") as worker_runtime, \
                    working(worker_runtime):
                seen = await until(feed, lambda e: e.data["status"] == "completed")
    assert {event.event for event in seen} == {"instance"}
    assert {event.data["id"] for event in seen} == {mine}
    assert seen[-1].data["output"] == {"message": "hi"}
    assert seen[-1].data["workflow"]["name"] == "greet"
    ids = [int(str(event.id)) for event in seen]  # microseconds since 1970
    assert ids == sorted(ids)
    assert abs(ids[-1] / 1e6 - datetime.fromisoformat(seen[-1].data["updatedAt"]).timestamp()) < 1


async def test_the_list_stream_resumes_after_last_event_id(store_url: str) -> None:
    async with served(store_url, **FAST, stream_lookback=0.1) as server, \
            client_of(server) as client:
        before = str(int(datetime.now(UTC).timestamp() * 1_000_000))
        earlier = (await server.runtime.execute(GREET)).id
        await asyncio.sleep(0.3)  # beyond the lookback
        async with client.stream("GET", "/instances/stream") as stream:
            later = await start(client)
            fresh = await until(events(stream), lambda e: e.data["id"] == later)
        assert earlier not in {event.data["id"] for event in fresh}
        async with client.stream("GET", "/instances/stream",
                                 headers={"Last-Event-ID": before}) as stream:
            resumed = await until(events(stream), lambda e: e.data["id"] == later)
        assert resumed[0].data["id"] == earlier and resumed[0].data["status"] == "completed"


async def test_the_history_stream_until_the_end(store_url: str) -> None:
    async with served(store_url, **FAST) as server, client_of(server) as client:
        await client.post("/definitions", content=GREET)
        instance_id = await start(client)
        async with client.stream("GET", f"/instances/{instance_id}/stream") as stream:
            feed = events(stream)
            first = await until(feed, lambda e: e.event == "instance")
            async with runtime_on(store_url, "elsewhere") as worker_runtime, \
                    working(worker_runtime):
                rest = await until(feed, None)  # the server closes it after `end`
        history = (await client.get(f"/instances/{instance_id}/history")).json()["items"]
        # Resumed: only what follows the id given; the end again, at once.
        async with client.stream("GET", f"/instances/{instance_id}/stream",
                                 headers={"Last-Event-ID": "1"}) as stream:
            resumed = await until(events(stream), None)
        async with client.stream("GET", f"/instances/{instance_id}/stream",
                                 params={"after": len(history) - 1}) as stream:
            tail = await until(events(stream), None)
    assert [(e.event, e.data["status"]) for e in first] == [("instance", "pending")]
    entries = [event for event in rest if event.event == "entry"]
    assert [event.data for event in entries] == history
    assert [event.id for event in entries] == [str(entry["seq"]) for entry in history]
    assert rest[-2].event == "instance" and rest[-2].data["status"] == "completed"
    assert rest[-1].event == "end" and rest[-1].data == {"id": instance_id,
                                                         "status": "completed"}
    assert [e.data["seq"] for e in resumed if e.event == "entry"] == [
        entry["seq"] for entry in history[1:]]
    assert [e.event for e in tail] == ["entry", "instance", "end"]


async def test_streams_ping_and_end_when_the_client_leaves(store_url: str) -> None:
    async with served(store_url, **FAST, stream_ping=0.1) as server, client_of(server) as client:
        async with client.stream("GET", "/instances/stream") as stream:
            async with asyncio.timeout(10):
                async for line in events(stream):
                    assert isinstance(line, str) and line.startswith(":")
                    break
            assert server.server.server_state.tasks  # the stream's request is running

        async def finished() -> bool:
            return not server.server.server_state.tasks

        await eventually(finished)


async def test_a_stopping_server_ends_its_streams(store_url: str) -> None:
    async with served(store_url, **FAST) as server, client_of(server) as client, \
            client.stream("GET", "/instances/stream") as stream:
        stop_streams(server.app)
        assert await until(events(stream), None) == []  # the stream closes


async def test_stream_errors_are_problems(api: httpx.AsyncClient,
                                          anonymous: httpx.AsyncClient) -> None:
    problem(await api.get("/instances/nope/stream"), 404)
    for path in ("/instances/stream", "/instances/nope/stream"):
        body = problem(await api.get(path, headers={"Last-Event-ID": "yesterday"}), 422)
        assert body["field"] == "header.last-event-id"
    body = problem(await api.get("/instances/stream", headers={"Last-Event-ID": "9" * 18}), 422)
    assert body["detail"] == "header.last-event-id: not an id this stream sent"
    for path in ("/instances/stream", "/instances/nope/stream"):
        problem(await anonymous.get(path), 401)
    body = problem(await api.get("/instances/stream", params={"created_after": "soon"}), 422)
    assert body["field"] == "query.created_after"
