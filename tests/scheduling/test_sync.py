"""Deploying keeps the schedule rows in step: the highest deployed version's
schedule is the workflow's; a newer version takes it over or removes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from podium.store import Store
from tests.scheduling.support import Runtimes, scheduled


async def test_deploy_creates_the_schedule_of_a_scheduled_workflow(
    store: Store, runtime_on: Runtimes
) -> None:
    before = datetime.now(UTC)
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
        await runtime.deploy(scheduled(None, name="plain"))
    [row] = await store.list_schedules()
    assert (row.namespace, row.name, row.version, row.kind) == ("test", "nightly", "0.1.0",
                                                                "every")
    assert row.spec == {"every": "PT1H"}
    assert row.next_due is not None
    assert before + timedelta(hours=1) <= row.next_due <= datetime.now(UTC) + timedelta(hours=1)
    assert (row.owner, row.last_due, row.last_instance) == (None, None, None)


async def test_deploying_the_same_version_again_keeps_the_next_due_time(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
    [first] = await store.list_schedules()
    async with runtime_on("w2") as runtime:  # another process, later
        await runtime.deploy(scheduled({"every": "PT1H"}))
    assert await store.list_schedules() == [first]


async def test_a_newer_version_takes_the_schedule_over(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
        await runtime.deploy(scheduled({"cron": "0 2 * * *"}, version="0.2.0"))
        [row] = await store.list_schedules()
        assert (row.version, row.kind, row.spec) == ("0.2.0", "cron", {"cron": "0 2 * * *"})
        assert row.next_due is not None
        assert (row.next_due.hour, row.next_due.minute) == (2, 0)
        # An older version deployed afterwards changes nothing.
        await runtime.deploy(scheduled({"every": "PT5M"}, version="0.1.5"))
        assert await store.list_schedules() == [row]


async def test_a_newer_version_without_a_schedule_removes_it(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        await runtime.deploy(scheduled({"every": "PT1H"}))
        await runtime.deploy(scheduled(None, version="1.0.0"))
        assert await store.list_schedules() == []
        # ...and a still newer one with a schedule brings one back.
        await runtime.deploy(scheduled({"after": "PT1M"}, version="1.1.0"))
    [row] = await store.list_schedules()
    assert (row.version, row.kind) == ("1.1.0", "after")
    assert row.next_due is not None and row.next_due <= datetime.now(UTC)  # at once


async def test_starting_a_scheduled_document_does_not_schedule_it(
    store: Store, runtime_on: Runtimes
) -> None:
    async with runtime_on("w1") as runtime:
        handle = await runtime.start(scheduled({"every": "PT1H"}))
        assert (await handle.result()).status == "completed"
    assert await store.list_schedules() == []
