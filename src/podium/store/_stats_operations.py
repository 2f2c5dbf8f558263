"""What the dashboard's overview counts, as plain SQL over a ``Tx``; written once
for both databases.

Counts are grouped in the database (they read the status and ended-at indexes);
run times are not computed in SQL, where the two dialects subtract timestamps
differently, but read for the latest ended instances, at most a sample's worth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from podium.store._batch import Tx
from podium.store.base import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    FAULTED,
    EndedSample,
    ErrorCount,
    InstanceStats,
    WorkflowCounts,
)


def _literals(values: tuple[str, ...]) -> str:
    # Only our own status constants, never caller data.
    return ", ".join(f"'{value}'" for value in values)


async def instance_stats(
    tx: Tx, since: datetime, errors: int, sample: int
) -> InstanceStats:
    dialect = tx.dialect
    moment = dialect.encode_time(since)
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    ended = await tx.fetch(
        "SELECT namespace, name, status, COUNT(*) FROM podium_instances"
        f" WHERE ended_at >= ? AND status IN ({_literals((COMPLETED, FAULTED, CANCELLED))})"
        " GROUP BY namespace, name, status",
        (moment,),
    )
    active = await tx.fetch(
        "SELECT namespace, name, status, COUNT(*) FROM podium_instances"
        f" WHERE status IN ({_literals(ACTIVE)}) GROUP BY namespace, name, status"
    )
    for namespace, name, status, count in [*ended, *active]:
        counts[(namespace, name)][status] = int(count)
    workflows = tuple(
        WorkflowCounts(namespace, name, **by_status)
        for (namespace, name), by_status in sorted(counts.items())
    )

    error_type = dialect.json_text("error", "type")
    error_title = dialect.json_text("error", "title")
    rows = await tx.fetch(
        f"SELECT {error_type}, {error_title}, COUNT(*), MAX(ended_at) FROM podium_instances"
        " WHERE status = ? AND ended_at >= ? GROUP BY 1, 2 ORDER BY 3 DESC, 4 DESC LIMIT ?",
        (FAULTED, moment, errors),
    )
    top = tuple(ErrorCount(type_, title, int(count), dialect.decode_time(last))
                for type_, title, count, last in rows)

    rows = await tx.fetch(
        "SELECT namespace, name, status, started_at, ended_at FROM podium_instances"
        f" WHERE ended_at >= ? AND status IN ({_literals((COMPLETED, FAULTED))})"
        " ORDER BY ended_at DESC LIMIT ?",
        (moment, sample + 1),
    )
    samples = tuple(_sample(dialect, row) for row in rows[:sample])
    return InstanceStats(since, workflows, top, samples, sampled_all=len(rows) <= sample)


def _sample(dialect: Any, row: tuple[Any, ...]) -> EndedSample:
    namespace, name, status, started, ended = row
    ended_at = dialect.decode_time(ended)
    # An instance ended before it started (cancelled while pending) ran for no time.
    seconds = (ended_at - dialect.decode_time(started)).total_seconds() if started else 0.0
    return EndedSample(namespace, name, status, ended_at, max(seconds, 0.0))
