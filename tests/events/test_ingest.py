"""``ingest``: validate all, store once per source+id, tell the dispatcher."""

from __future__ import annotations

from typing import Any

import pytest

from podium.events.cloudevents import InvalidEvent
from podium.events.ingest import ingest
from podium.store import Store


def event(number: int, **changes: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"e{number}", "source": "/test",
            "type": "com.example.tick", "subject": f"s{number}", "data": {"n": number},
            **changes}


async def test_events_are_stored_in_order(store: Store) -> None:
    notified: list[bool] = []
    result = await ingest(store, [event(1), event(2)], "cli", lambda: notified.append(True))
    assert [(r.source, r.id, r.type, r.subject) for r in result.stored] == [
        ("/test", "e1", "com.example.tick", "s1"), ("/test", "e2", "com.example.tick", "s2")
    ]
    assert result.duplicates == []
    assert notified == [True]
    listed = await store.list_events()
    assert [(r.id, r.origin, r.event["data"]) for r in listed] == [
        ("e2", "cli", {"n": 2}), ("e1", "cli", {"n": 1})
    ]


async def test_one_invalid_event_refuses_the_whole_batch(store: Store) -> None:
    notified: list[bool] = []
    with pytest.raises(InvalidEvent, match=r"^event 3 of 3: 'id' must be a non-empty string$"):
        await ingest(store, [event(1), event(2), event(3, id="")], "cli",
                     lambda: notified.append(True))
    assert await store.list_events() == []
    assert notified == []


async def test_the_same_source_and_id_is_stored_once(store: Store) -> None:
    notified: list[bool] = []
    first = await ingest(store, [event(1)], "cli")
    again = await ingest(store, [event(1, data={"n": "changed"}), event(2)], "nats",
                         lambda: notified.append(True))
    assert [record.id for record in again.stored] == ["e2"]
    assert again.duplicates == [event(1, data={"n": "changed"})]
    assert notified == [True]  # e2 is new
    stored = {record.id: record for record in await store.list_events()}
    assert stored["e1"].event["data"] == {"n": 1}  # kept as it was first stored
    assert stored["e1"].key == first.stored[0].key
    # Another source may use the same id.
    other = await ingest(store, [event(1, source="/other")], "cli")
    assert [record.source for record in other.stored] == ["/other"]


async def test_only_duplicates_notify_nobody(store: Store) -> None:
    await ingest(store, [event(1)], "cli")
    notified: list[bool] = []
    result = await ingest(store, [event(1)], "cli", lambda: notified.append(True))
    assert result.stored == [] and len(result.duplicates) == 1
    assert notified == []


async def test_nothing_to_ingest(store: Store) -> None:
    result = await ingest(store, [], "cli", lambda: pytest.fail("notified"))
    assert result.stored == [] and result.duplicates == []
