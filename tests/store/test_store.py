"""Definitions, instances and journals, on every store."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from podium.store import (
    COMPLETED,
    RUNNING,
    DefinitionConflict,
    InstanceQuery,
    Store,
    StoreError,
    SubscriptionRecord,
    page_cursor,
    parse_cursor,
)
from tests.store.factories import definition, entry, instance, now

# definitions ------------------------------------------------------------------------------


async def test_put_definition_is_idempotent(store: Store) -> None:
    record = definition()
    assert await store.put_definition(record) is True
    assert await store.put_definition(record) is False
    # The same document deployed again with other formatting is still the same one.
    assert await store.put_definition(replace(record, source="# reformatted\n")) is False
    assert await store.get_definition("default", "order", "1.0.0") == record


async def test_put_definition_conflict(store: Store) -> None:
    await store.put_definition(definition())
    other = definition(document={"document": {"dsl": "1.0.3"}, "do": []})
    with pytest.raises(DefinitionConflict, match=r"default/order:1\.0\.0"):
        await store.put_definition(other)
    stored = await store.get_definition("default", "order", "1.0.0")
    assert stored is not None and stored.document == definition().document


async def test_get_definition_latest_is_by_semantic_version(store: Store) -> None:
    for version in ["1.9.0", "1.10.0-rc.1", "1.10.0-alpha", "0.99.0", "1.2.3"]:
        await store.put_definition(definition(version))
    latest = await store.get_definition("default", "order")
    assert latest is not None and latest.version == "1.10.0-rc.1"
    await store.put_definition(definition("1.10.0"))
    for asked in (None, "latest"):
        found = await store.get_definition("default", "order", asked)
        assert found is not None and found.version == "1.10.0"


async def test_get_definition_missing(store: Store) -> None:
    await store.put_definition(definition())
    assert await store.get_definition("default", "order", "2.0.0") is None
    assert await store.get_definition("default", "other") is None
    assert await store.get_definition("elsewhere", "order", "latest") is None


async def test_list_definitions(store: Store) -> None:
    assert await store.list_definitions() == []
    records = [definition("1.10.0"), definition("1.9.0"), definition("1.0.0", name="alpha")]
    for record in records:
        await store.put_definition(record)
    listed = await store.list_definitions()
    assert [(r.name, r.version) for r in listed] == [
        ("alpha", "1.0.0"),
        ("order", "1.9.0"),
        ("order", "1.10.0"),
    ]
    assert listed[2] == records[0]


# instances --------------------------------------------------------------------------------


async def test_instance_round_trips_every_field(store: Store) -> None:
    at = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
    record = instance(
        key="order-42",
        input={"nested": [1, 2.5, "three", None, True, {"x": {}}]},
        output=["a", {"b": 1}],
        error={"type": "https://serverlessworkflow.io/spec/1.0.0/errors/runtime", "status": 500},
        started_at=at,
        ended_at=at + timedelta(seconds=1),
        owner="worker-1",
        lease_expires_at=at + timedelta(seconds=30),
        wake_at=at + timedelta(hours=1),
        request="suspend",
        parent_id="parent-1",
        parent_position="/do/0/sub",
    )
    created, is_new = await store.create_instance(record)
    assert (created, is_new) == (record, True)
    stored = await store.get_instance(record.id)
    assert stored == record
    assert stored is not None and stored.created_at.tzinfo == UTC


async def test_instance_json_scalars(store: Store) -> None:
    for value in ["text", 7, 1.5, False, None, []]:
        record = instance(input=value, output=value)
        await store.create_instance(record)
        assert await store.get_instance(record.id) == record


async def test_timestamps_are_utc_whatever_zone_they_came_in(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2025, 6, 1, 14, 0, tzinfo=paris)
    record = instance(created_at=local, updated_at=local)
    await store.create_instance(record)
    stored = await store.get_instance(record.id)
    assert stored is not None
    assert stored.created_at == local and stored.created_at.tzinfo == UTC
    assert stored.created_at.hour == 12


async def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.create_instance(instance(created_at=datetime(2025, 1, 1)))


async def test_values_that_are_not_json_are_refused(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.create_instance(instance(input={"when": object()}))
    with pytest.raises(ValueError):
        await store.create_instance(instance(input=float("nan")))


async def test_create_instance_key_is_idempotent(store: Store) -> None:
    first, created = await store.create_instance(instance(key="k"))
    assert created
    again, created = await store.create_instance(instance(key="k"))
    assert (again, created) == (first, False)
    # Instances without a key never collide.
    assert (await store.create_instance(instance()))[1]
    assert (await store.create_instance(instance()))[1]


async def test_create_instance_same_key_concurrently(store: Store) -> None:
    results = await asyncio.gather(
        *(store.create_instance(instance(key="once")) for _ in range(20))
    )
    assert sum(created for _, created in results) == 1
    assert len({record.id for record, _ in results}) == 1


async def test_create_instance_same_id(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    assert await store.create_instance(replace(record, input="other")) == (record, False)


async def test_get_instance_missing(store: Store) -> None:
    assert await store.get_instance("nope") is None


async def test_list_instances_newest_first(store: Store) -> None:
    records = [instance() for _ in range(5)]
    for record in records:
        await store.create_instance(record)
    await store.update_instance(records[1].id, status=RUNNING)
    await store.update_instance(records[3].id, status=RUNNING)
    listed = await store.list_instances()
    assert [r.id for r in listed] == [r.id for r in reversed(records)]
    first_two = await store.list_instances(InstanceQuery(limit=2))
    assert [r.id for r in first_two] == [records[4].id, records[3].id]
    running = await store.list_instances(InstanceQuery(status=RUNNING))
    assert [r.id for r in running] == [records[3].id, records[1].id]
    assert await store.list_instances(InstanceQuery(status=COMPLETED)) == []


async def test_list_instances_filters(store: Store) -> None:
    same_time = now()
    records = [
        instance(name="order", key="ORDER-1%", created_at=same_time, updated_at=same_time),
        instance(name="order", version="2.0.0", created_at=same_time, updated_at=same_time),
        instance(name="refund", namespace="shop", key="refund_7"),
    ]
    for record in records:
        await store.create_instance(record)
    ended = now()
    await store.update_instance(records[0].id, status=COMPLETED, ended_at=ended)

    async def ids(**filters: Any) -> set[str]:
        return {r.id for r in await store.list_instances(InstanceQuery(**filters))}

    assert await ids(name="order") == {records[0].id, records[1].id}
    assert await ids(name="order", version="2.0.0") == {records[1].id}
    assert await ids(namespace="shop") == {records[2].id}
    assert await ids(key="refund_7") == {records[2].id}
    # search: a part of the id or of the key, any case; LIKE's wildcards are literal
    assert await ids(search="order-1%") == {records[0].id}
    assert await ids(search="_7") == {records[2].id}
    assert await ids(search=records[1].id[-3:].upper()) == {records[1].id}
    assert await ids(search="r_1") == set()
    assert await ids(ended_after=ended - timedelta(seconds=1)) == {records[0].id}
    assert await ids(ended_before=ended - timedelta(seconds=1)) == set()
    assert await ids(created_after=same_time, created_before=same_time) == {
        records[0].id, records[1].id}
    assert await ids(updated_after=same_time) == {records[0].id}


async def test_list_instances_pages_by_cursor(store: Store) -> None:
    same_time = now()  # ties on created_at are broken by id
    records = [instance(created_at=same_time, updated_at=same_time) for _ in range(3)]
    records += [instance() for _ in range(4)]
    for record in records:
        await store.create_instance(record)
    expected = [r.id for r in await store.list_instances()]
    seen: list[str] = []
    query = InstanceQuery(limit=2)
    while page := await store.list_instances(query):
        seen += [r.id for r in page]
        cursor = page_cursor(page[-1])
        query = InstanceQuery(limit=2, after=parse_cursor(cursor))
    assert seen == expected and len(seen) == 7
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor("garbage")


async def test_update_instance(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    ended = now()
    await store.update_instance(
        record.id, status=COMPLETED, output={"total": 3}, ended_at=ended, wake_at=None
    )
    stored = await store.get_instance(record.id)
    assert stored is not None
    assert (stored.status, stored.output, stored.ended_at) == (COMPLETED, {"total": 3}, ended)
    assert stored.updated_at > record.updated_at  # set by the store when not given


async def test_update_instance_refuses_unknown_fields_and_ids(store: Store) -> None:
    record = instance()
    await store.create_instance(record)
    with pytest.raises(TypeError, match="colour"):
        await store.update_instance(record.id, colour="red")
    with pytest.raises(TypeError, match="id"):
        await store.update_instance(record.id, id="other")


async def test_update_missing_instance(store: Store) -> None:
    with pytest.raises(StoreError, match="no instance 'ghost'"):
        await store.update_instance("ghost", status=RUNNING)


# journal ----------------------------------------------------------------------------------


async def test_journal_keeps_append_order(store: Store) -> None:
    await store.append([entry("a", "/do/0", "workflow.started")])
    await store.append([entry("a", "/do/0", "task.started"), entry("b", "/do/0", "task.started")])
    await store.append([entry("a", "/do/0", data={"out": 1}, worker="w1")])
    journal = await store.read_journal("a")
    assert [(e.seq, e.kind) for e in journal] == [
        (1, "workflow.started"),
        (2, "task.started"),
        (3, "task.completed"),
    ]
    assert journal[2].data == {"out": 1} and journal[2].worker == "w1"
    assert journal[2].at.tzinfo == UTC
    assert [e.seq for e in await store.read_journal("b")] == [1]


async def test_journal_round_trips_entries(store: Store) -> None:
    entries = [
        entry("a", "/do/1/for/do/0/charge#i=3#a=1", "task.faulted", data={"type": "x"}),
        entry("a", "/do/2/wait", "timer", data="2030-01-01T00:00:00Z"),
        entry("a", "/do/3", "task.completed", data=None),
    ]
    await store.append(entries)
    assert await store.read_journal("a") == entries  # seq is not compared


async def test_read_journal_unknown_instance(store: Store) -> None:
    assert await store.read_journal("nothing") == []
    await store.append([])  # nothing to do, nothing done
    assert await store.read_journal("nothing") == []


async def test_read_journal_pages_after_a_seq(store: Store) -> None:
    await store.append([entry("a", f"/do/{n}", "task.started") for n in range(5)])
    assert [e.seq for e in await store.read_journal("a", after_seq=2)] == [3, 4, 5]
    assert [e.seq for e in await store.read_journal("a", limit=2)] == [1, 2]
    assert [e.seq for e in await store.read_journal("a", after_seq=1, limit=3)] == [2, 3, 4]
    assert await store.read_journal("a", after_seq=5) == []
    assert len(await store.read_journal("a")) == 5


# purging ----------------------------------------------------------------------------------


async def test_purge_instances_deletes_only_the_ended_ones_named(store: Store) -> None:
    done, active, other = instance(), instance(), instance()
    for record in (done, active, other):
        await store.create_instance(record)
        await store.append([entry(record.id, "/do/0", "task.started")])
        # a listener interrupted by a fault may leave its subscription behind
        await store.subscribe(SubscriptionRecord(record.id, "/do/1", ("order.paid",), {},
                                                 None, now()))
    for record in (done, other):
        await store.update_instance(record.id, status=COMPLETED, ended_at=now())
    gone = await store.purge_instances([done.id, active.id, "ghost", done.id])
    assert gone == [done.id]
    assert await store.get_instance(done.id) is None
    assert await store.read_journal(done.id) == []
    assert await store.get_subscriptions(done.id) == []
    assert await store.get_subscriptions(active.id)
    assert [r.id for r in await store.list_instances()] == [other.id, active.id]
    assert await store.read_journal(active.id) and await store.read_journal(other.id)
    assert await store.purge_instances([]) == []
