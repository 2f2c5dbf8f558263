"""The Prometheus metrics after a known set of runs, read back from the text a
scrape returns: counters with their exact label sets, histogram counts, the
gauges the store's counts feed, and the errors only the host sees."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podium import Runtime
from podium.dsl import model as m
from podium.engine.state import TaskRun
from podium.store import InstanceRecord, Store, StoreError, open_store
from podium.tasks import _KINDS
from podium.telemetry import Telemetry
from podium.worker import Worker
from tests.durability.helpers import ended, runtime_on, working
from tests.support.fake_services import FakeServices
from tests.telemetry.conftest import Scraped, document, labels

OK = document("ok", """\
  - first:
      set: {step: 1}
  - skipped:
      if: ${ false }
      set: {never: true}
  - fetch:
      call: http
      with: {method: get, endpoint: '${ $workflow.input.url }'}
""")

BROKEN = document("broken", """\
  - first:
      set: {step: 1}
  - fail:
      raise:
        error: {type: https://example.com/oops, status: 400, title: Oops}
""")

RETRIED = document("retried", """\
  - attempt:
      try:
        - fail:
            raise:
              error: {type: https://example.com/flaky, status: 503}
      catch:
        errors: {with: {status: 503}}
        retry:
          delay: PT0S
          limit: {attempt: {count: 2}}
""")


async def known_runs(runtime: Runtime, url: str) -> None:
    """test/ok twice (completed), test/broken once (faulted), test/retried once
    (completed after two retries)."""
    for _ in range(2):
        assert (await runtime.execute(OK, {"url": url})).status == "completed"
    assert (await runtime.execute(BROKEN)).status == "faulted"
    assert (await runtime.execute(RETRIED)).status == "completed"


async def test_counters_and_histograms_after_known_runs(fake_services: FakeServices) -> None:
    async with Runtime() as runtime:
        telemetry = Telemetry().attach(runtime)
        await known_runs(runtime, f"{fake_services.httpbin_url}/headers")
        scraped = Scraped(await telemetry.scrape())

    assert scraped.series("podium_workflow_instances_total") == {
        labels(workflow="test/ok", version="1.0.0", status="completed"): 2,
        labels(workflow="test/broken", version="1.0.0", status="faulted"): 1,
        labels(workflow="test/retried", version="1.0.0", status="completed"): 1,
    }
    assert scraped.series("podium_workflow_instances_started_total") == {
        labels(workflow="test/ok", version="1.0.0"): 2,
        labels(workflow="test/broken", version="1.0.0"): 1,
        labels(workflow="test/retried", version="1.0.0"): 1,
    }
    # The task skipped by its `if` did not run: it is not counted.
    assert scraped.series("podium_task_executions_total") == {
        labels(workflow="test/ok", task_kind="set", status="completed"): 2,
        labels(workflow="test/ok", task_kind="call", status="completed"): 2,
        labels(workflow="test/broken", task_kind="set", status="completed"): 1,
        labels(workflow="test/broken", task_kind="raise", status="faulted"): 1,
        labels(workflow="test/retried", task_kind="raise", status="faulted"): 3,
        labels(workflow="test/retried", task_kind="try", status="completed"): 1,
    }
    assert scraped.series("podium_task_retries_total") == {labels(workflow="test/retried"): 2}
    assert scraped.series("podium_calls_total") == {
        labels(workflow="test/ok", kind="http", status="completed"): 2,
    }
    assert scraped.value("podium_call_duration_seconds_count", kind="http") == 2
    assert scraped.value("podium_workflow_duration_seconds_count",
                         workflow="test/ok", status="completed") == 2
    assert scraped.value("podium_workflow_duration_seconds_count",
                         workflow="test/broken", status="faulted") == 1
    assert scraped.value("podium_workflow_duration_seconds_bucket",
                         workflow="test/broken", status="faulted", le="+Inf") == 1
    assert scraped.value("podium_instance_start_delay_seconds_count", workflow="test/ok") == 2
    assert scraped.value("podium_instance_start_delay_seconds_count", workflow="test/retried") == 1
    # No host errors, each kind present at 0; no store, so no instance gauges.
    assert scraped.series("podium_engine_errors_total") == {
        labels(kind=kind): 0 for kind in ("store", "lease_lost", "internal", "quarantined")
    }
    assert scraped.series("podium_instances") == {}


async def test_each_runtime_counts_only_its_own_runs() -> None:
    async with Runtime() as first, Runtime() as second:
        counted = Telemetry().attach(first)
        other = Telemetry().attach(second)
        await first.execute(BROKEN)
        assert Scraped(await counted.scrape()).value(
            "podium_workflow_instances_total", workflow="test/broken", version="1.0.0",
            status="faulted") == 1
        assert Scraped(await other.scrape()).series("podium_workflow_instances_total") == {}
        assert Telemetry.of(first) is counted
        with pytest.raises(ValueError, match="telemetry already"):
            Telemetry().attach(first)


@pytest.fixture
def broken_set(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`set: {v: boom}` raises a RuntimeError: a bug, not a workflow's error."""
    original = _KINDS[m.SetTask]

    async def execute(task: m.SetTask, run: TaskRun) -> Any:
        if task.set == {"v": "boom"}:
            raise RuntimeError("something broke inside")
        return await original(task, run)

    monkeypatch.setitem(_KINDS, m.SetTask, execute)
    yield


async def test_an_internal_error_is_counted_as_an_engine_error(
    broken_set: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.CRITICAL, logger="podium"):
        async with Runtime() as runtime:
            telemetry = Telemetry().attach(runtime)
            execution = await runtime.execute(document("bug", "  - boom:\n      set: {v: boom}\n"))
            scraped = Scraped(await telemetry.scrape())
    assert execution.status == "faulted"
    assert scraped.value("podium_engine_errors_total", kind="internal") == 1
    assert scraped.value("podium_workflow_instances_total", workflow="test/bug",
                         version="1.0.0", status="faulted") == 1


# On a store (both backends) -------------------------------------------------------------

GREET = document("greet", "  - hello:\n      set: {message: hi}\n")


async def test_gauges_count_active_instances_in_the_store(store_url: str, store: Store) -> None:
    async with runtime_on(store_url, "w1") as runtime:
        telemetry = Telemetry().attach(runtime)
        telemetry.COUNTS_TTL = 0.0
        definition = await runtime.registry.get(*(await _deployed(runtime, GREET)))
        pending = [(await runtime.create_instance(definition, {}))[0] for _ in range(3)]
        # One of them claimed by a worker that then died: its lease runs out.
        await store.claim("ghost", 1, lease_seconds=0.05)
        await asyncio.sleep(0.2)
        scraped = Scraped(await telemetry.scrape())
        assert scraped.series("podium_instances") == {
            labels(status="pending"): 3, labels(status="running"): 0,
            labels(status="waiting"): 0, labels(status="suspended"): 0,
        }
        assert scraped.value("podium_instances_lease_expired") == 1
        assert scraped.value("podium_worker_leases_held") == 0
        assert scraped.value("podium_worker_lease_renewal_ok") == 1

        async with working(runtime):
            for record in pending:
                assert (await ended(store, record.id)).status == "completed"
        scraped = Scraped(await telemetry.scrape())
    assert scraped.series("podium_instances") == {
        labels(status=status): 0 for status in ("pending", "running", "waiting", "suspended")
    }
    assert scraped.value("podium_instances_lease_expired") == 0
    # Created pending, run by the worker: the delay to the first task is observed.
    assert scraped.value("podium_instance_start_delay_seconds_count", workflow="test/greet") == 3
    assert scraped.value("podium_workflow_instances_total", workflow="test/greet",
                         version="1.0.0", status="completed") == 3


async def _deployed(runtime: Runtime, text: str) -> tuple[str, str, str]:
    record = await runtime.deploy(text)
    return record.namespace, record.name, record.version


async def test_the_start_delay_counts_from_the_instance_s_creation(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "w1") as runtime:
        telemetry = Telemetry().attach(runtime)
        namespace, name, version = await _deployed(runtime, GREET)
        # Recorded an hour ago and never run: its first task starts an hour late.
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        record, _ = await store.create_instance(InstanceRecord(
            id="01jlate0000000000000000000", namespace=namespace, name=name, version=version,
            status="pending", input={}, created_at=an_hour_ago, updated_at=an_hour_ago))
        async with working(runtime):
            await ended(store, record.id)
        scraped = Scraped(await telemetry.scrape())
    assert scraped.value("podium_instance_start_delay_seconds_bucket", workflow="test/greet",
                         le="300.0") == 0
    assert scraped.value("podium_instance_start_delay_seconds_bucket", workflow="test/greet",
                         le="3600.0") == 0
    assert scraped.value("podium_instance_start_delay_seconds_bucket", workflow="test/greet",
                         le="+Inf") == 1


async def test_a_failing_store_is_counted_and_leaves_the_gauges_out(store_url: str) -> None:
    opened = open_store(store_url)
    await opened.open()
    async with Runtime(store=opened, worker_id="w1") as runtime:
        telemetry = Telemetry().attach(runtime)
        telemetry.COUNTS_TTL = 0.0
        assert Scraped(await telemetry.scrape()).series("podium_instances") != {}
        await opened.close()
        with pytest.raises(StoreError):
            await Worker(runtime, poll_seconds=0.05).run(asyncio.Event())
        assert Scraped(telemetry.metrics.render()).value(
            "podium_engine_errors_total", kind="store") == 1
        # The scrape itself cannot count instances either: one more, and no gauge.
        scraped = Scraped(await telemetry.scrape())
    assert scraped.value("podium_engine_errors_total", kind="store") == 2
    assert scraped.series("podium_instances") == {}
    assert scraped.value("podium_instances_lease_expired") is None
