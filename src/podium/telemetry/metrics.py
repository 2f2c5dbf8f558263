"""Prometheus metrics of one runtime, in a registry of its own (docs/operations.md
maps each to the service level it measures, M1-M7).

Counters and histograms are fed by the lifecycle listener (``podium.telemetry``)
and by the host's error reports (``Runtime.report_error``); the gauges of
instances by status come from the store at scrape time (one query, at most every
``Telemetry.COUNTS_TTL`` seconds), those of leases from this process's lease
keeper. Labelled children are looked up once per label set and kept: a hot
event costs a dict look-up and an increment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from podium.store import ACTIVE, ActiveCounts

# Workflows last milliseconds to days: buckets across that range.
WORKFLOW_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0, 900.0, 3600.0, 14400.0, 86400.0)
CALL_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
DELAY_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                 300.0, 3600.0)

# The kinds of podium_engine_errors_total, present (at 0) from the first scrape so
# that rate() and absent-series alerts work before the first error.
ENGINE_ERRORS = ("store", "lease_lost", "internal", "quarantined")

M = TypeVar("M", Counter, Histogram)


class _Labelled(Generic[M]):
    """A metric's children by label values, each looked up once."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class Metrics:
    """The runtime's metrics (names and labels in docs/operations.md)."""

    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.instances_started = _Labelled(Counter(
            "podium_workflow_instances_started", "Instances that started running (first run).",
            ["workflow", "version"], registry=registry))
        self.instances = _Labelled(Counter(
            "podium_workflow_instances",
            "Instances that ended, by how: completed, faulted, cancelled (M1 success rate).",
            ["workflow", "version", "status"], registry=registry))
        self.duration = _Labelled(Histogram(
            "podium_workflow_duration_seconds",
            "From an instance's first start to its end, across parks and restarts (M2).",
            ["workflow", "status"], buckets=WORKFLOW_SECONDS, registry=registry))
        self.tasks = _Labelled(Counter(
            "podium_task_executions",
            "Task executions that ended, by kind and how: completed, faulted, cancelled (M3).",
            ["workflow", "task_kind", "status"], registry=registry))
        self.retries = _Labelled(Counter(
            "podium_task_retries", "Retries of a try task's policy (M4).", ["workflow"],
            registry=registry))
        self.start_delay = _Labelled(Histogram(
            "podium_instance_start_delay_seconds",
            "From an instance's creation to the start of its first task (M5 cold start).",
            ["workflow"], buckets=DELAY_SECONDS, registry=registry))
        self.engine_errors = _Labelled(Counter(
            "podium_engine_errors",
            "Errors outside workflows: store failures, lost leases, internal errors, "
            "quarantined instances (M6).", ["kind"], registry=registry))
        self.call_duration = _Labelled(Histogram(
            "podium_call_duration_seconds", "Call tasks from start to end, by protocol (M7).",
            ["kind"], buckets=CALL_SECONDS, registry=registry))
        self.calls = _Labelled(Counter(
            "podium_calls", "Call tasks that ended, by workflow, protocol and how (M7 cost).",
            ["workflow", "kind", "status"], registry=registry))
        for kind in ENGINE_ERRORS:
            self.engine_errors(kind)
        self.gauges = _Gauges()
        registry.register(self.gauges)

    def engine_error(self, kind: str) -> None:
        """``Runtime.report_error``: one more error of ``kind`` outside workflows."""
        self.engine_errors(kind).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition (format 0.0.4)."""
        return generate_latest(self.registry)


class _Gauges(Collector):
    """Gauges computed when scraped: instances by status (from the store's last
    count) and this process's leases."""

    def __init__(self) -> None:
        self.active: ActiveCounts | None = None
        # () -> (leases held, renewals working), when this process runs instances.
        self.leases: Callable[[], tuple[int, bool]] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.active is not None:
            by_status = GaugeMetricFamily(
                "podium_instances", "Active instances by status, in the whole store.",
                labels=["status"])
            for status in ACTIVE:
                by_status.add_metric([status], self.active.statuses.get(status, 0))
            yield by_status
            yield GaugeMetricFamily(
                "podium_instances_lease_expired",
                "Active instances whose owner's lease ran out (a worker died or stalls).",
                value=self.active.expired_leases)
        if self.leases is not None:
            held, renewing = self.leases()
            yield GaugeMetricFamily(
                "podium_worker_leases_held", "Instances this process holds a lease on.",
                value=held)
            yield GaugeMetricFamily(
                "podium_worker_lease_renewal_ok",
                "1 while this process renews its leases, 0 while renewals fail.",
                value=1 if renewing else 0)
