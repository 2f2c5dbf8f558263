"""``schedule.on`` registers a subscription that the event dispatcher answers by
starting an instance (``start_scheduled``)."""

from __future__ import annotations

import pytest

from podium.store import Store
from podium.store._sqlstore import SQLStore
from tests.scheduling.support import Runtimes, scheduled

pytestmark = pytest.mark.skipif(
    not hasattr(SQLStore, "subscribe"),
    reason="the store's subscriptions (Store.subscribe) are not implemented on this branch yet",
)

ON = {"on": {"one": {"with": {"type": "com.example.alert", "source": "monitor"}}}}


async def test_deploying_an_on_schedule_subscribes_it(store: Store, runtime_on: Runtimes) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled(ON))
        [row] = await store.list_schedules()
        assert (row.kind, row.next_due) == ("on", None)
        [subscription] = await store.get_subscriptions("schedule:test/nightly")
        assert subscription.position == "/schedule/on"
        assert subscription.types == ("com.example.alert",)
        assert subscription.spec["strategy"] == "one"
        assert subscription.spec["filters"] == [{"with": {"type": "com.example.alert",
                                                          "source": "monitor"}}]
        assert subscription.spec["version"] == "0.1.0"
        # A newer version on a timer ends the subscription.
        await runtime.deploy(scheduled({"every": "PT1H"}, version="0.2.0"))
        assert await store.get_subscriptions("schedule:test/nightly") == []
