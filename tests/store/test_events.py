"""The event inbox, subscriptions, mailboxes and named leases, on every store."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest

from podium.limits import MAX_PAYLOAD_BYTES
from podium.store import COMPLETED, RUNNING, WAITING, LeaseLost, PayloadTooLarge, Store
from podium.store.base import Delivery, EventRecord, SubscriptionRecord
from tests.store.factories import instance, now

_ids = itertools.count(1)


def event(type: str = "com.example.order", source: str = "/shop", **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": f"e-{next(_ids)}", "source": source, "type": type,
        "data": {"n": 1}, **extra,
    }


async def stored(store: Store, *events: dict[str, Any]) -> list[EventRecord]:
    records = await store.put_events(events, origin="cli")
    assert all(record is not None for record in records)
    return [record for record in records if record is not None]


def subscription(
    instance_id: str, position: str = "/do/0/wait", types: tuple[str, ...] = ("com.example.order",),
    **changes: Any,
) -> SubscriptionRecord:
    values: dict[str, Any] = {
        "instance_id": instance_id, "position": position, "types": types,
        "spec": {"strategy": "one"}, "state": None, "created_at": now(), "deadline": None,
    }
    return SubscriptionRecord(**(values | changes))


def delivery(instance_id: str, record: EventRecord, position: str = "/do/0/wait") -> Delivery:
    return Delivery(
        instance_id, position, record.key, record.event, {"filters": [0], "until": [], "keys": {}},
        now(),
    )


# the inbox --------------------------------------------------------------------------------


async def test_put_events_keeps_one_event_per_source_and_id(store: Store) -> None:
    first, other_source, again = event(), event(source="/other"), event()
    other_source["id"] = first["id"]
    again["id"], again["data"] = first["id"], {"n": 2}
    records = await store.put_events([first, other_source, again], origin="cli")
    assert records[2] is None  # the same source+id later in the batch
    assert records[0] is not None and records[1] is not None
    assert records[0].event == first and records[0].origin == "cli"
    assert (records[0].source, records[0].id) == ("/shop", first["id"])
    assert records[0].type == first["type"]
    # ... and in a later call: the one stored first is kept as it was.
    assert await store.put_events([again]) == [None]
    listed = await store.list_events()
    assert [r.key for r in listed] == [records[1].key, records[0].key]
    assert listed[1].event["data"] == {"n": 1}


async def test_keys_sort_in_arrival_order(store: Store) -> None:
    before = now()
    records = await stored(store, *(event(subject=f"s{i}") for i in range(50)))
    more = await stored(store, event())
    keys = [r.key for r in [*records, *more]]
    assert keys == sorted(keys) and len(set(keys)) == 51
    assert all(key == key.lower() and len(key) == 26 for key in keys)
    assert records[3].subject == "s3"
    assert before <= records[0].received_at <= now()
    assert [r.key for r in await store.undispatched(100)] == keys


async def test_a_payload_too_large_is_refused_and_nothing_stored(store: Store) -> None:
    big = event(data="x" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(PayloadTooLarge, match="MiB"):
        await store.put_events([event(), big])
    assert await store.list_events() == []


async def test_list_events_filters_and_names_consumers(store: Store) -> None:
    order, paid = await stored(store, event("order"), event("paid"))
    later = await stored(store, event("order"))
    assert [r.key for r in await store.list_events()] == [later[0].key, paid.key, order.key]
    assert [r.key for r in await store.list_events(type="order")] == [later[0].key, order.key]
    assert [r.key for r in await store.list_events(limit=1)] == [later[0].key]
    assert [r.key for r in await store.list_events(since=later[0].received_at)] == [later[0].key]
    assert await store.list_events(since=now() + timedelta(seconds=1)) == []
    await store.dispatch(
        [order.key],
        [delivery("i-2", order), delivery("i-1", order), delivery("i-1", order, "/do/1/wait"),
         delivery("schedule:default/report", order)],
    )
    listed = {r.key: r.consumers for r in await store.list_events()}
    assert listed == {
        order.key: ("i-1", "i-2", "schedule:default/report"), paid.key: (), later[0].key: (),
    }


# dispatch ---------------------------------------------------------------------------------


async def test_dispatch_marks_events_and_delivers_once(store: Store) -> None:
    first, second = await stored(store, event(), event())
    assert [r.key for r in await store.undispatched(1)] == [first.key]
    before = now()
    for _ in range(2):  # a dispatcher that crashed before it knew: the same again
        await store.dispatch([first.key], [delivery("i-1", first)])
    assert [r.key for r in await store.undispatched(10)] == [second.key]
    marked = (await store.list_events(limit=10))[1]
    assert marked.key == first.key and marked.dispatched_at is not None
    assert before <= marked.dispatched_at <= now()
    box = await store.mailbox("i-1", "/do/0/wait")
    assert [d.event_key for d in box] == [first.key]
    assert box[0].event == first.event and box[0].matched["filters"] == [0]
    assert box[0].consumed_at is None


async def test_dispatch_after_the_deadline_writes_nothing(store: Store) -> None:
    record = (await stored(store, event()))[0]
    await store.subscribe(subscription("i-1"))
    with pytest.raises(LeaseLost, match="lease expired"):
        await store.dispatch(
            [record.key], [delivery("i-1", record)], {("i-1", "/do/0/wait"): {"k": 1}},
            deadline=now() - timedelta(milliseconds=1),
        )
    assert [r.key for r in await store.undispatched(10)] == [record.key]
    assert await store.mailbox("i-1", "/do/0/wait") == []
    assert (await store.get_subscriptions("i-1"))[0].state is None
    await store.dispatch([record.key], [delivery("i-1", record)],
                         deadline=now() + timedelta(seconds=30))
    assert await store.undispatched(10) == []


async def test_dispatch_wakes_waiting_instances_nobody_runs(store: Store) -> None:
    later = now() + timedelta(hours=1)
    due = now() - timedelta(hours=1)
    parked = instance(status=WAITING)
    sleeping = instance(status=WAITING, wake_at=later)  # a listen with a timeout
    due_already = instance(status=WAITING, wake_at=due)
    owned = instance(status=WAITING, owner="w1", lease_expires_at=later)
    running = instance(status=RUNNING)
    bystander = instance(status=WAITING)
    for record in (parked, sleeping, due_already, owned, running, bystander):
        await store.create_instance(record)
    message = (await stored(store, event()))[0]
    before = now()
    await store.dispatch(
        [message.key],
        [delivery(r.id, message) for r in (parked, sleeping, due_already, owned, running)]
        + [delivery("schedule:default/report", message)],
    )
    after = now()
    for record in (parked, sleeping):
        woken = await store.get_instance(record.id)
        assert woken is not None and woken.wake_at is not None
        assert before <= woken.wake_at <= after
    for record, wake_at in ((due_already, due), (owned, None), (running, None), (bystander, None)):
        unchanged = await store.get_instance(record.id)
        assert unchanged is not None and unchanged.wake_at == wake_at, record.id
    claimed = {r.id for r in await store.claim("w2", 10, 30)}
    assert claimed == {parked.id, sleeping.id, due_already.id, running.id}


async def test_release_wakes_a_parking_listener_with_mail(store: Store) -> None:
    later = now() + timedelta(hours=1)
    with_mail, without = instance(status=RUNNING), instance(status=RUNNING)
    for record in (with_mail, without):
        await store.create_instance(record)
    assert len(await store.claim("w1", 10, 30)) == 2
    message = (await stored(store, event()))[0]
    # Delivered while they still run: the dispatcher's wake-up does not apply.
    await store.dispatch([message.key], [delivery(with_mail.id, message)])
    before = now()
    for record in (with_mail, without):
        await store.release("w1", record.id, status=WAITING, wake_at=later, wake_if_mailbox=True)
    woken = await store.get_instance(with_mail.id)
    assert woken is not None and woken.status == WAITING and woken.owner is None
    assert woken.wake_at is not None and before <= woken.wake_at <= now()
    asleep = await store.get_instance(without.id)
    assert asleep is not None and asleep.wake_at == later and asleep.owner is None
    assert [r.id for r in await store.claim("w2", 10, 30)] == [with_mail.id]
    # Consumed mail does not wake it; a lost lease is still refused.
    await store.consume(with_mail.id, "/do/0/wait", [message.key])
    await store.release("w2", with_mail.id, status=WAITING, wake_at=None, wake_if_mailbox=True)
    parked = await store.get_instance(with_mail.id)
    assert parked is not None and parked.wake_at is None
    with pytest.raises(LeaseLost, match="not held by worker 'w2'"):
        await store.release("w2", with_mail.id, status=WAITING, wake_if_mailbox=True)


async def test_release_and_dispatch_racing_never_lose_a_wake_up(
    store: Store, other_store: Store
) -> None:
    """A listener parking and a dispatcher delivering at the same time, in two
    processes: whichever commits second sees the other's work."""
    records = [instance(status=RUNNING) for _ in range(10)]
    for record in records:
        await store.create_instance(record)
    assert len(await store.claim("w1", 10, 30)) == 10
    for record in records:
        message = (await stored(other_store, event()))[0]
        await asyncio.gather(
            store.release("w1", record.id, status=WAITING, wake_if_mailbox=True),
            other_store.dispatch([message.key], [delivery(record.id, message)]),
        )
        parked = await store.get_instance(record.id)
        assert parked is not None and parked.wake_at is not None and parked.wake_at <= now()


# subscriptions and mailboxes ----------------------------------------------------------------


async def test_subscriptions_for_groups_rows_by_subscription(store: Store) -> None:
    start = now()
    both = subscription("i-1", types=("paid", "order", "order"), created_at=start)
    anything = subscription("i-2", types=("*",), created_at=start + timedelta(seconds=1))
    other = subscription("i-0", types=("shipped",), created_at=start + timedelta(seconds=2))
    second = subscription("i-1", "/do/1/wait", types=("paid",), created_at=start,
                          deadline=start + timedelta(minutes=5), state={"id": 7})
    for record in (both, anything, other, second):
        await store.subscribe(record)
    found = await store.subscriptions_for(["order"])
    assert found == [SubscriptionRecord(**(vars(both) | {"types": ("order", "paid")})), anything]
    assert await store.subscriptions_for(["paid", "shipped"]) == [
        SubscriptionRecord(**(vars(both) | {"types": ("order", "paid")})), second, anything, other,
    ]
    assert await store.subscriptions_for(["nothing"]) == [anything]
    positions = [r.position for r in await store.get_subscriptions("i-1")]
    assert positions == ["/do/0/wait", "/do/1/wait"]


async def test_subscribe_again_replaces_types_and_keeps_state(store: Store) -> None:
    await store.subscribe(subscription("i-1", types=("order", "paid")))
    message = (await stored(store, event("order")))[0]
    await store.dispatch([message.key], [], {("i-1", "/do/0/wait"): {"customer": "c-1"}})
    assert (await store.get_subscriptions("i-1"))[0].state == {"customer": "c-1"}
    # The instance replays its listen after a restart: same subscription, no state.
    await store.subscribe(subscription("i-1", types=("order",)))
    [again] = await store.get_subscriptions("i-1")
    assert again.types == ("order",) and again.state == {"customer": "c-1"}
    assert await store.subscriptions_for(["paid"]) == []
    await store.subscribe(subscription("i-1", state={"customer": "c-2"}))
    assert (await store.get_subscriptions("i-1"))[0].state == {"customer": "c-2"}
    with pytest.raises(ValueError, match="accepts no event type"):
        await store.subscribe(subscription("i-1", types=()))


async def test_mailbox_consume_and_unsubscribe(store: Store) -> None:
    await store.subscribe(subscription("i-1"))
    first, second, third = await stored(store, event(), event(), event())
    await store.dispatch(
        [third.key, first.key, second.key],
        [delivery("i-1", third), delivery("i-1", first), delivery("i-1", second),
         delivery("i-1", first, "/do/1/wait")],
    )
    box = await store.mailbox("i-1", "/do/0/wait")
    assert [d.event_key for d in box] == [first.key, second.key, third.key]
    await store.consume("i-1", "/do/0/wait", [first.key, third.key])
    assert [d.event_key for d in await store.mailbox("i-1", "/do/0/wait")] == [second.key]
    assert [d.event_key for d in await store.mailbox("i-1", "/do/1/wait")] == [first.key]
    await store.unsubscribe("i-1", "/do/0/wait", [second.key])
    assert await store.get_subscriptions("i-1") == []
    assert await store.mailbox("i-1", "/do/0/wait") == []
    # Consumed deliveries stay: the history of who got what.
    consumers = {r.key: r.consumers for r in await store.list_events()}
    assert consumers[second.key] == consumers[third.key] == ("i-1",)
    # A delivery never taken is dropped with the subscription.
    await store.subscribe(subscription("i-1", position="/do/1/wait"))
    await store.unsubscribe("i-1", "/do/1/wait")
    assert await store.mailbox("i-1", "/do/1/wait") == []
    consumers = {r.key: r.consumers for r in await store.list_events()}
    assert consumers[first.key] == ("i-1",)  # consumed at /do/0/wait


# named leases -------------------------------------------------------------------------------


async def test_named_leases(store: Store, other_store: Store) -> None:
    assert await store.acquire_lease("dispatcher", "a", 30) is True
    assert await other_store.acquire_lease("dispatcher", "b", 30) is False
    assert await store.acquire_lease("dispatcher", "a", 30) is True  # renewed by its owner
    assert await other_store.acquire_lease("other", "b", 30) is True  # names are independent
    await other_store.release_lease("dispatcher", "b")  # not b's: nothing happens
    assert await other_store.acquire_lease("dispatcher", "b", 30) is False
    await store.release_lease("dispatcher", "a")
    assert await other_store.acquire_lease("dispatcher", "b", 0.2) is True
    assert await store.acquire_lease("dispatcher", "a", 30) is False
    await asyncio.sleep(0.3)  # b's lease expires
    assert await store.acquire_lease("dispatcher", "a", 30) is True
    assert await other_store.acquire_lease("dispatcher", "b", 30) is False


# purge --------------------------------------------------------------------------------------


async def test_purge_deletes_subscriptions_mailboxes_and_old_events(store: Store) -> None:
    old_event, kept_for_mail = await stored(store, event(), event())
    await asyncio.sleep(0.01)
    cutoff = now()
    await asyncio.sleep(0.01)
    recent = (await stored(store, event()))[0]
    ended = instance(status=COMPLETED, ended_at=cutoff - timedelta(days=1))
    live = instance(status=WAITING)
    for record in (ended, live):
        await store.create_instance(record)
        await store.subscribe(subscription(record.id))
    await store.dispatch(
        [old_event.key, kept_for_mail.key, recent.key],
        [delivery(ended.id, recent), delivery(live.id, old_event), delivery(live.id, kept_for_mail),
         delivery(live.id, recent)],
    )
    await store.consume(live.id, "/do/0/wait", [old_event.key])
    assert await store.purge(cutoff) == 1
    assert await store.get_subscriptions(ended.id) == []
    assert await store.mailbox(ended.id, "/do/0/wait") == []
    assert len(await store.get_subscriptions(live.id)) == 1
    assert [r.key for r in await store.list_events()] == [recent.key]
    assert {r.key: r.consumers for r in await store.list_events()} == {recent.key: (live.id,)}
    # An old event not yet consumed stays in the mailbox of the instance waiting for it.
    box = await store.mailbox(live.id, "/do/0/wait")
    assert [d.event_key for d in box] == [kept_for_mail.key, recent.key]


async def test_subscriptions_are_found_by_the_correlation_value_events_carry(
    store: Store,
) -> None:
    source = "${ .data.auctionId }"
    for n in range(3):
        await store.subscribe(subscription(f"auction-{n}", types=("bid",),
                                           correlation=(source, f'"a-{n}"')))
    await store.subscribe(subscription("any-bid", types=("bid",)))
    await store.subscribe(subscription("other", types=("ask",),
                                       correlation=(".data.x", '"a-1"')))
    assert await store.correlation_sources(["bid"]) == [source]
    found = await store.subscriptions_for(["bid"], {source: ['"a-1"', '"a-9"']})
    assert sorted(s.instance_id for s in found) == ["any-bid", "auction-1"]
    assert [s.correlation for s in found if s.instance_id == "auction-1"] == [
        (source, '"a-1"')]
    # Without values: every subscription of the type.
    assert len(await store.subscriptions_for(["bid"])) == 4
    # A `from` no event carries a value of: only those expecting nothing.
    found = await store.subscriptions_for(["bid"], {source: []})
    assert [s.instance_id for s in found] == ["any-bid"]
