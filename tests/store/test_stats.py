"""``Store.instance_stats`` on both databases: what the dashboard's overview shows
(ended by outcome, active now, the top errors, run times of the latest ended)."""

from __future__ import annotations

from datetime import timedelta

from podium.store import (
    CANCELLED,
    COMPLETED,
    FAULTED,
    RUNNING,
    SUSPENDED,
    WAITING,
    Store,
    WorkflowCounts,
)
from tests.store.factories import instance, now


async def _ended(store: Store, status: str, seconds: float, ago: timedelta = timedelta(0),
                 name: str = "order", error: dict[str, object] | None = None) -> None:
    end = now() - ago
    record = instance(name=name)
    await store.create_instance(record)
    await store.update_instance(record.id, status=status, started_at=end - timedelta(
        seconds=seconds), ended_at=end, error=error)


async def test_counts_per_workflow_since_a_time(store: Store) -> None:
    await _ended(store, COMPLETED, 1.0)
    await _ended(store, COMPLETED, 3.0)
    await _ended(store, FAULTED, 2.0, error={"type": "https://x/a", "title": "A"})
    await _ended(store, CANCELLED, 0.5)
    await _ended(store, COMPLETED, 1.0, ago=timedelta(hours=2))  # before the window
    await _ended(store, COMPLETED, 4.0, name="refund")
    for status in (RUNNING, WAITING, WAITING, SUSPENDED):
        record = instance(name="refund")
        await store.create_instance(record)
        await store.update_instance(record.id, status=status)
    await store.create_instance(instance(name="quiet"))  # pending

    stats = await store.instance_stats(now() - timedelta(hours=1))

    assert stats.workflows == (
        WorkflowCounts("default", "order", completed=2, faulted=1, cancelled=1),
        WorkflowCounts("default", "quiet", pending=1),
        WorkflowCounts("default", "refund", completed=1, running=1, waiting=2, suspended=1),
    )
    # completed and faulted only, newest first, with their run times
    assert [(s.name, s.status, round(s.seconds, 3)) for s in stats.ended] == [
        ("refund", COMPLETED, 4.0), ("order", FAULTED, 2.0), ("order", COMPLETED, 3.0),
        ("order", COMPLETED, 1.0)]
    assert stats.sampled_all


async def test_top_errors_by_type_and_title(store: Store) -> None:
    a = {"type": "https://x/a", "title": "A", "status": 500}
    b = {"type": "https://x/b", "title": "B", "status": 400}
    for error in (a, b, a, a, b, {"type": "https://x/c"}):
        await _ended(store, FAULTED, 1.0, error=error)
    await _ended(store, FAULTED, 1.0, ago=timedelta(days=2), error=b)  # before the window

    stats = await store.instance_stats(now() - timedelta(hours=1), errors=2)

    assert [(e.type, e.title, e.count) for e in stats.errors] == [
        ("https://x/a", "A", 3), ("https://x/b", "B", 2)]
    assert stats.errors[0].last_at <= now()


async def test_the_sample_is_capped_to_the_latest(store: Store) -> None:
    for seconds in range(5):
        await _ended(store, COMPLETED, float(seconds), ago=timedelta(minutes=10 - seconds))
    stats = await store.instance_stats(now() - timedelta(hours=1), sample=3)
    assert [round(s.seconds) for s in stats.ended] == [4, 3, 2]
    assert not stats.sampled_all
    assert stats.workflows[0].completed == 5  # counts stay exact
