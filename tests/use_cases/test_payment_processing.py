"""payment-processing: the order saga of examples/use-cases/payment-processing,
end to end. Happy path from the CLI; a failure at each step compensated in
reverse order; a 503 retried under the same idempotency key; and a worker killed
with SIGKILL while the payment provider holds a capture, after which another
worker finishes the saga and the payment is captured exactly once. On SQLite
with one worker and on PostgreSQL with two."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from podium.store import Store
from tests.cli.support import eventually, ok, spawn, status_is, stop
from tests.durability.helpers import ended
from tests.durability.helpers import eventually as eventually_async
from tests.durability.workers import Workers
from tests.use_cases.durable_support import (
    create,
    document,
    worker_count,
    workers_in_process,
)

pytestmark = pytest.mark.xdist_group("use-case-payment-processing")

CASE = "payment-processing"
ORDER = json.loads(document(CASE, "input.json").read_text())
SAGA = "/do/0/placeOrder@0"  # the saga's try, first (only) attempt
STEP_TASKS = {  # the forward steps: the task, and the call inside its retrying try
    "reserve": "try/0/reserveStock",
    "authorize": "try/1/authorizePayment",
    "capture": "try/2/capturePayment",
    "ship": "try/3/shipOrder",
}




def effects_by_key(services: ModuleType) -> Counter[tuple[str, str]]:
    """How many times each (operation, idempotency key) took effect."""
    return Counter((call.name, call.headers["idempotency-key"])
                   for name in set(services.effects.names())
                   for call in services.effects.named(name))


def effect_names(services: ModuleType) -> list[str]:
    return services.effects.names()



@pytest.mark.timeout(90)
def test_an_order_is_reserved_authorized_captured_and_shipped_from_the_cli(
    services: ModuleType, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    assert ok("deploy", document(CASE, "payment.yaml"), "--store", store).strip() == (
        "shop/payment-processing:1.0.0 deployed")
    instance_id = ok("start", "shop/payment-processing", "--input",
                     f"@{document(CASE, 'input.json')}", "--store", store).strip()
    worker = spawn("worker", "--store", store)
    try:
        eventually(status_is(store, instance_id, "completed"), timeout=30,
                   what="the saga to complete")
    finally:
        stop(worker)
    record = json.loads(ok("instances", "get", instance_id, "--store", store, "--json"))
    output = record["output"]
    assert output["status"] == "confirmed" and output["orderId"] == ORDER["orderId"]
    assert output["captureId"].startswith("cap-") and output["trackingNumber"]
    assert effect_names(services) == ["reserve", "authorize", "capture", "ship"]
    assert effects_by_key(services) == {
        (step, f"{instance_id}:{step}"): 1 for step in STEP_TASKS}
    assert services.requests.names() == ["reserve", "authorize", "capture", "ship"]
    (authorized,) = services.effects.named("authorize")
    assert authorized.body == {"orderId": "order-1001", "amount": 24.5, "currency": "EUR",
                               "card": "tok_visa"}
    history = json.loads(ok("instances", "history", instance_id, "--store", store, "--json"))
    completed = [e["position"] for e in history if e["kind"] == "task.completed"]
    steps = [f"{SAGA}/{task}" for task in STEP_TASKS.values()]
    assert [p for p in completed if p in steps] == steps
    assert not [e for e in history if "catch" in e["position"]]



# A failing step (a 4xx: not retried) and the compensations that must follow, in order.
FAILURES = {
    "reserve": [],
    "authorize": ["release"],
    "capture": ["void", "release"],
    "ship": ["refund", "release"],
}
COMPENSATION_TASKS = {"refund": "refundPayment", "void": "voidAuthorization",
                      "release": "releaseStock"}


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("failing", list(FAILURES))
async def test_a_failure_at_each_step_undoes_the_steps_done_in_reverse_order(
    failing: str, services: ModuleType, store_url: str, store: Store
) -> None:
    services.control({"fail": {failing: {"status": 409, "times": 1}}})
    record = await create(store_url, CASE, "payment.yaml", ORDER)
    async with workers_in_process(store_url, worker_count(store_url)):
        done = await ended(store, record.id, within=30)
    assert done.status == "completed", done.error
    compensations = FAILURES[failing]
    steps = list(STEP_TASKS)
    done_steps = steps[:steps.index(failing)]
    assert done.output == {
        "orderId": ORDER["orderId"], "status": "cancelled",
        "failedAt": f"/do/0/placeOrder/{STEP_TASKS[failing]}/try/0/{failing}",
        "reason": done.output["reason"],
        "compensated": [COMPENSATION_TASKS[c] for c in compensations],
    }
    assert "409" in done.output["reason"]
    # The stand-ins saw the steps done, the failed attempt, then the compensations.
    assert effect_names(services) == done_steps + compensations
    assert services.requests.names() == [*done_steps, failing, *compensations]
    assert effects_by_key(services) == {
        (name, f"{record.id}:{name}"): 1 for name in done_steps + compensations}
    # History: the step faulted once (no retry for a 409), the saga's catch ran.
    journal = await store.read_journal(record.id)
    step = f"{SAGA}/{STEP_TASKS[failing]}"
    assert [e.kind for e in journal if e.position == step] == ["task.started", "task.faulted"]
    assert not [e for e in journal if e.kind == "task.retried"]
    ran = [e.position.rsplit("/", 1)[1] for e in journal
           if e.kind == "task.completed" and e.position.startswith(f"{SAGA}/catch/do/")
           and "/try/" not in e.position]
    assert ran == [COMPENSATION_TASKS[c] for c in compensations] + ["cancelOrder"]


async def test_a_503_is_retried_with_backoff_under_the_same_idempotency_key(
    services: ModuleType, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'podium.db'}"
    services.control({"fail": {"authorize": {"status": 503, "times": 3}}})
    record = await create(store_url, CASE, "payment.yaml", ORDER)
    from podium.store import open_store

    store = open_store(store_url)
    await store.open()
    try:
        async with workers_in_process(store_url, 1):
            done = await ended(store, record.id, within=30)
        journal = await store.read_journal(record.id)
    finally:
        await store.close()
    assert done.status == "completed", done.error
    assert done.output["status"] == "confirmed"
    key = f"{record.id}:authorize"
    attempts = services.requests.named("authorize")
    assert [call.headers["idempotency-key"] for call in attempts] == [key] * 4
    assert effects_by_key(services)[("authorize", key)] == 1
    # Delays of 0.2, 0.4, 0.8 s (exponential), each plus up to 0.2 s of jitter.
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    for gap, base in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert base <= gap < base + 0.2 + 1.0, gaps  # jitter, then a loaded machine
    retried = [e for e in journal if e.kind == "task.retried"]
    assert len(retried) == 3
    assert all("/authorizePayment" in e.position for e in retried)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_worker_killed_mid_capture_never_captures_twice(
    services: ModuleType, store_url: str, store: Store, workers: Workers
) -> None:
    # The provider captures at once but holds its answer: the kill lands mid-call.
    services.control({"delay": {"capture": 30}})
    started = [await workers.start(store_url, "--lease", "1.5")
               for _ in range(worker_count(store_url))]
    record = await create(store_url, CASE, "payment.yaml", ORDER)

    async def capture_in_flight() -> bool:
        return bool(services.requests.named("capture"))

    await eventually_async(capture_in_flight, within=20)
    holder = (await store.get_instance(record.id)).owner  # type: ignore[union-attr]
    (doomed,) = [w for w in started if w.worker_id == holder]
    services.control({})  # answers come at once from now on
    doomed.kill()
    killed_at = time.time()
    if len(started) == 1:  # SQLite: the next worker takes over from the journal
        await workers.start(store_url, "--lease", "1.5")

    done = await ended(store, record.id, within=30)
    assert done.status == "completed", done.error
    survivor = (await store.read_journal(record.id))[-1].worker
    assert survivor != holder
    key = f"{record.id}:capture"
    # Sent twice (the first answer was lost with the worker), captured once.
    first, second = services.requests.named("capture")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == key
    assert first.at < killed_at < second.at
    assert effects_by_key(services) == {
        (step, f"{record.id}:{step}"): 1 for step in STEP_TASKS}
    (captured,) = services.effects.named("capture")
    assert done.output["status"] == "confirmed"
    assert done.output["captureId"].startswith("cap-")
    # The journal: the capture step completed once, by the survivor.
    journal = await store.read_journal(record.id)
    capture_step = f"{SAGA}/{STEP_TASKS['capture']}"
    assert [(e.kind, e.worker) for e in journal
            if e.position == capture_step and e.kind == "task.completed"] == [
        ("task.completed", survivor)]
    assert captured.at < killed_at
