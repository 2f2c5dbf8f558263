"""The overview's figures from ``Store.instance_stats``: per workflow and in
total, how many completed and faulted in the window, the success rate, P50/P95
run times, what is active now, and a bar chart of outcomes over the window."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from podium.store import ErrorCount, InstanceStats

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
BUCKETS = 24
CHART_W, CHART_H = 1200.0, 120.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0-100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def success_rate(completed: int, faulted: int) -> float | None:
    total = completed + faulted
    return None if total == 0 else completed / total


@dataclass
class WorkflowRow:
    namespace: str
    name: str
    completed: int
    faulted: int
    cancelled: int
    active: dict[str, int]
    rate: float | None
    p50: float | None
    p95: float | None

    @property
    def ended(self) -> int:
        return self.completed + self.faulted


@dataclass
class Bucket:
    x: float
    w: float
    completed: int
    faulted: int
    completed_h: float
    faulted_h: float
    start: datetime


@dataclass
class Overview:
    window: str
    since: datetime
    completed: int
    faulted: int
    cancelled: int
    rate: float | None
    p50: float | None
    p95: float | None
    active: dict[str, int]
    rows: list[WorkflowRow]
    errors: tuple[ErrorCount, ...]
    buckets: list[Bucket] = field(default_factory=list)
    sampled_all: bool = True
    sample_size: int = 0

    @property
    def busiest(self) -> int:
        return max((row.ended for row in self.rows), default=0)


def overview(stats: InstanceStats, window: str, now: datetime) -> Overview:
    durations: dict[tuple[str, str], list[float]] = {}
    for sample in stats.ended:
        durations.setdefault((sample.namespace, sample.name), []).append(sample.seconds)
    rows = []
    for counts in stats.workflows:
        times = durations.get((counts.namespace, counts.name), [])
        rows.append(WorkflowRow(
            counts.namespace, counts.name, counts.completed, counts.faulted, counts.cancelled,
            {"pending": counts.pending, "running": counts.running, "waiting": counts.waiting,
             "suspended": counts.suspended},
            success_rate(counts.completed, counts.faulted),
            percentile(times, 50), percentile(times, 95)))
    rows.sort(key=lambda row: (-row.ended - sum(row.active.values()), row.namespace, row.name))
    completed = sum(row.completed for row in rows)
    faulted = sum(row.faulted for row in rows)
    everything = [sample.seconds for sample in stats.ended]
    active = {status: sum(row.active[status] for row in rows)
              for status in ("pending", "running", "waiting", "suspended")}
    return Overview(
        window, stats.since, completed, faulted, sum(row.cancelled for row in rows),
        success_rate(completed, faulted), percentile(everything, 50), percentile(everything, 95),
        active, rows, stats.errors, _buckets(stats, now), stats.sampled_all, len(stats.ended))


def _buckets(stats: InstanceStats, now: datetime) -> list[Bucket]:
    span = (now - stats.since) / BUCKETS
    counts = [[0, 0] for _ in range(BUCKETS)]
    for sample in stats.ended:
        index = min(max(int((sample.ended_at - stats.since) / span), 0), BUCKETS - 1)
        counts[index][0 if sample.status == "completed" else 1] += 1
    highest = max((c + f for c, f in counts), default=0) or 1
    width = CHART_W / BUCKETS
    return [
        Bucket(index * width + 1, width - 2, completed, faulted,
               completed / highest * CHART_H, faulted / highest * CHART_H,
               stats.since + span * index)
        for index, (completed, faulted) in enumerate(counts)
    ]
