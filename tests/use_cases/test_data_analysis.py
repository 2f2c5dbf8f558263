"""data-analysis: a cron schedule starts a run that lists the warehouse's
partitions, analyses each in a subflow (three at a time), retries a partition
whose analysis fails, reports one that keeps failing, and posts the report.
The schedule fires under a real `podium worker` (its due time moved to the
past, as tests/scheduling does); the retry and the failure are checked on runs
started directly, as the schedule starts them (input {})."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from podium.store import InstanceQuery, InstanceRecord, Store, open_store
from tests.cli.support import eventually, ok, spawn, status_is, stop
from tests.durability.helpers import ended
from tests.use_cases.durable_support import (
    create,
    deploy,
    document,
    workers_in_process,
)

pytestmark = pytest.mark.xdist_group("use-case-data-analysis")

CASE = "data-analysis"
PARTITIONS = [f"2026-12-{day:02d}" for day in range(1, 8)]
FLAKY, CORRUPT = "2026-12-03", "2026-12-06"
ANALYSED = [p for p in PARTITIONS if p != CORRUPT]




def assert_reported(services: ModuleType, instance_id: str, output: Any) -> None:
    """The output and the one report filed: six partitions analysed (the flaky
    one included), the corrupt one listed as failed, the run completed."""
    assert output["partitions"] == len(PARTITIONS)
    assert output["analysed"] == len(ANALYSED)
    assert [r["partition"] for r in output["results"]] == ANALYSED
    assert output["results"][0] == {"partition": "2026-12-01", "status": "analysed",
                                    **_numbers(services, "2026-12-01")}
    assert output["rows"] == sum(services.statistics(p)["rows"] for p in ANALYSED)
    (failed,) = output["failed"]
    assert failed["partition"] == CORRUPT and failed["status"] == "failed"
    assert "has a corrupt footer" in failed["error"]
    (report,) = services.reports.named("report")
    assert report.headers["idempotency-key"] == f"{instance_id}:report"
    assert report.body == {k: v for k, v in output.items() if k != "reportId"}
    assert output["reportId"] == "report-001"
    # Each partition analysed once, the flaky one twice, the corrupt one three times.
    assert Counter(services.analyses.names()) == {
        **dict.fromkeys(PARTITIONS, 1), FLAKY: 2, CORRUPT: 3}
    assert len(services.listings) == 1


def _numbers(services: ModuleType, partition: str) -> dict[str, Any]:
    stats = services.statistics(partition)
    return {"rows": stats["rows"], "mean": stats["mean"], "range": [stats["min"], stats["max"]]}


@pytest.mark.timeout(90)
def test_the_cron_schedule_starts_a_run_that_posts_the_report(
    services: ModuleType, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    ok("deploy", document(CASE, "analyse-partition.yaml"), document(CASE, "data-analysis.yaml"),
       "--store", store)
    [schedule] = json.loads(ok("schedules", "list", "--store", store, "--json"))
    assert (schedule["name"], schedule["kind"], schedule["expression"]) == (
        "data-analysis", "cron", "0 3 * * *")
    due = _make_due(store)  # 03:00 UTC is hours away: the due time is moved instead
    worker = spawn("worker", "--store", store)
    try:
        [schedule] = eventually(lambda: _fired(store), timeout=20, what="the schedule to fire")
        instance_id = schedule["lastInstance"]
        eventually(status_is(store, instance_id, "completed"), timeout=40,
                   what="the run to complete")
    finally:
        stop(worker)
    record = json.loads(ok("instances", "get", instance_id, "--store", store, "--json"))
    assert record["key"] == f"schedule:analytics/data-analysis:{_iso(due)}"
    assert record["input"] == {}
    assert_reported(services, instance_id, record["output"])
    history = json.loads(ok("instances", "history", instance_id, "--store", store, "--json"))
    completed = [e["position"] for e in history if e["kind"] == "task.completed"]
    assert completed[-1] == "/do/3/postReport"
    assert "/do/1/analyseInLanes" in completed


def _make_due(store_url: str) -> datetime:
    import asyncio

    async def move() -> datetime:
        store = open_store(store_url)
        await store.open()
        try:
            [row] = await store.list_schedules()
            due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
            await store.put_schedule(replace(row, next_due=due))
            return due
        finally:
            await store.close()

    return asyncio.run(move())


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _fired(store: str) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = json.loads(ok("schedules", "list", "--store", store, "--json"))
    return found if found and found[0]["lastInstance"] else None



async def _run(store_url: str, store: Store) -> tuple[InstanceRecord, list[InstanceRecord]]:
    """One run started as the schedule starts it (input {}), and its subflows."""
    await deploy(store_url, CASE, "analyse-partition.yaml", "data-analysis.yaml")
    record = await create(store_url, CASE, "data-analysis.yaml", {})
    async with workers_in_process(store_url, 1):
        done = await ended(store, record.id, within=40)
    children = await store.list_instances(InstanceQuery(parent=record.id, limit=100))
    return done, children


def _by_partition(children: list[InstanceRecord]) -> dict[str, list[str]]:
    """The statuses of the subflows of each partition, oldest first."""
    found: dict[str, list[str]] = {}
    for child in sorted(children, key=lambda c: (c.created_at, c.id)):
        found.setdefault(child.input["partition"]["id"], []).append(child.status)
    return found


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_flaky_partition_is_analysed_again_and_succeeds(
    services: ModuleType, store_url: str, store: Store
) -> None:
    done, children = await _run(store_url, store)
    assert done.status == "completed", done.error
    assert_reported(services, done.id, done.output)
    flaky = next(r for r in done.output["results"] if r["partition"] == FLAKY)
    assert flaky == {"partition": FLAKY, "status": "analysed", **_numbers(services, FLAKY)}
    # Each attempt is a subflow instance of its own: the first faulted (503).
    statuses = _by_partition(children)
    assert statuses[FLAKY] == ["faulted", "completed"]
    assert all(statuses[p] == ["completed"] for p in ANALYSED if p != FLAKY)
    journal = await store.read_journal(done.id)
    retried = [e for e in journal if e.kind == "task.retried"]
    # FLAKY is partition 2: lane3 (2 % 3), its first item.
    assert [e.position for e in retried].count(
        "/do/1/analyseInLanes/fork/branches/2/lane3[0]/do/0/analysePartition") == 1


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_partition_that_keeps_failing_is_reported_and_the_run_completes(
    services: ModuleType, store_url: str, store: Store
) -> None:
    done, children = await _run(store_url, store)
    assert done.status == "completed", done.error
    assert done.output["failed"][0]["partition"] == CORRUPT
    statuses = _by_partition(children)
    assert statuses[CORRUPT] == ["faulted"] * 3  # three attempts, then reported
    journal = await store.read_journal(done.id)
    corrupt_task = "/do/1/analyseInLanes/fork/branches/2/lane3[1]/do/0/analysePartition"
    assert [e.kind for e in journal if e.position == corrupt_task] == [
        "task.started", "task.retried", "task.retried", "task.completed"]
    recorded = [e for e in journal if e.kind == "task.completed"
                and e.position.startswith(corrupt_task) and e.position.endswith("/recordFailure")]
    assert len(recorded) == 1 and recorded[0].data["output"]["partition"] == CORRUPT
    (report,) = services.reports.named("report")
    assert [f["partition"] for f in report.body["failed"]] == [CORRUPT]
