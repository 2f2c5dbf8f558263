"""batch-fan-out: 200 work items submitted to a job API, each polled until done
with durable waits between polls, at most four at a time (a fork of four lanes,
each a subflow running its share with `for`), the failures collected. From the
CLI on SQLite; and with the worker killed (SIGKILL) mid-batch, on SQLite and on
PostgreSQL with two workers: no item is ever submitted twice."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from podium.store import InstanceQuery, Store
from tests.cli.support import eventually, ok, spawn, status_is, stop
from tests.durability.helpers import ended
from tests.durability.helpers import eventually as eventually_async
from tests.durability.workers import Workers
from tests.use_cases.durable_support import create, deploy, document, worker_count

pytestmark = pytest.mark.xdist_group("use-case-batch-fan-out")

CASE = "batch-fan-out"
LANES = 4
SAMPLE = json.loads(document(CASE, "input.json").read_text())
ITEMS = SAMPLE["items"]
# The sample's 200 items, polled every 0.1 s instead of every second.
FAST = {**SAMPLE, "pollEvery": "PT0.1S"}
CORRUPT = [item for item in ITEMS if "/corrupt-" in item["input"]]





def assert_the_batch_ran_once(services: ModuleType, batch_id: str, output: Any) -> None:
    """The output tallies every item, each item's job was created exactly once
    under the item's key, and never more than four ran at once."""
    assert output["submitted"] == len(ITEMS) == 200
    assert output["succeeded"] == len(ITEMS) - len(CORRUPT)
    assert [f["id"] for f in output["failed"]] == [item["id"] for item in CORRUPT]
    assert all(f["error"].startswith("cannot parse s3://") for f in output["failed"])
    created = Counter(services.submissions.names())
    assert created == dict.fromkeys((item["id"] for item in ITEMS), 1)
    keys = {call.name: call.headers["idempotency-key"]
            for name in created for call in services.submissions.named(name)}
    assert keys == {item["id"]: f"{batch_id}:{item['id']}" for item in ITEMS}
    assert services.most_running() == LANES


@pytest.mark.timeout(90)
def test_a_batch_of_200_runs_four_at_a_time_from_the_cli(
    services: ModuleType, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    deployed = ok("deploy", document(CASE, "batch-lane.yaml"), document(CASE, "batch.yaml"),
                  "--store", store)
    assert deployed.split("\n")[:2] == ["batch/batch-lane:1.0.0 deployed",
                                        "batch/batch-fan-out:1.0.0 deployed"]
    fast_input = tmp_path / "input.json"
    fast_input.write_text(json.dumps(FAST))
    batch_id = ok("start", "batch/batch-fan-out", "--input", f"@{fast_input}",
                  "--store", store).strip()
    worker = spawn("worker", "--store", store)
    try:
        eventually(status_is(store, batch_id, "completed"), timeout=60,
                   what="the batch to complete")
    finally:
        stop(worker)
    output = json.loads(ok("instances", "get", batch_id, "--store", store, "--json"))["output"]
    assert_the_batch_ran_once(services, batch_id, output)
    assert len(services.requests.named("submit")) == len(ITEMS)  # no repeat at all
    # Each item polled twice (running, then done), with a wait in between.
    assert len(services.requests.named("poll")) == 2 * len(ITEMS)
    history = json.loads(ok("instances", "history", batch_id, "--store", store, "--json"))
    lanes = [e["position"] for e in history if e["kind"] == "task.completed"
             and e["position"].startswith("/do/0/runInLanes/fork/branches/")]
    assert lanes and sorted(p.rsplit("/", 1)[1] for p in lanes) == ["lane1", "lane2", "lane3",
                                                                      "lane4"]



@pytest.mark.timeout(120)
@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_worker_killed_mid_batch_submits_no_item_twice(
    services: ModuleType, store_url: str, store: Store, workers: Workers
) -> None:
    await deploy(store_url, CASE, "batch-lane.yaml", "batch.yaml")
    started = [await workers.start(store_url, "--lease", "1.5")
               for _ in range(worker_count(store_url))]
    batch = await create(store_url, CASE, "batch.yaml", FAST)

    async def a_third_submitted() -> bool:
        return len(services.submissions) >= len(ITEMS) // 3

    await eventually_async(a_third_submitted, within=30)
    holder = (await store.get_instance(batch.id)).owner  # type: ignore[union-attr]
    (doomed,) = [w for w in started if w.worker_id == holder]
    doomed.kill()
    submitted_before = len(services.submissions)
    assert submitted_before < len(ITEMS)
    if len(started) == 1:  # SQLite: the next worker takes over from the journals
        await workers.start(store_url, "--lease", "1.5")

    done = await ended(store, batch.id, within=60)
    assert done.status == "completed", done.error
    assert_the_batch_ran_once(services, batch.id, done.output)
    survivor = (await store.read_journal(batch.id))[-1].worker
    assert survivor != holder
    # A submission in flight at the kill is sent again under its key (at most one a
    # lane); the job API answers the job it created, and creates nothing.
    repeats = Counter(call.headers["idempotency-key"]
                      for call in services.requests.named("submit"))
    assert set(repeats.values()) <= {1, 2} and sum(repeats.values()) - len(ITEMS) <= LANES
    # Each lane's journal completed each of its items' submission exactly once.
    lanes = await store.list_instances(InstanceQuery(parent=batch.id, limit=10))
    assert len(lanes) == LANES and {lane.status for lane in lanes} == {"completed"}
    for lane in lanes:
        journal = await store.read_journal(lane.id)
        submitted = [e.position for e in journal
                     if e.kind == "task.completed" and e.position.endswith("/submitJob")]
        assert len(submitted) == len(set(submitted)) == len(lane.input["items"])
        # Begun by the killed worker, finished by the survivor from the journal.
        assert {e.worker for e in journal} == {holder, survivor}
