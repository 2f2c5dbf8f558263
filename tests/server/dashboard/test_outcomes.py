"""What the instance view reads from a journal: one state per task for the
graph's colors, executions and timers for the timeline. Journals come from
real runs (over a SQLite store), or are written out where a run cannot be
paused at the moment wanted (running, waiting, a fork branch that lost)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, load
from podium.dsl.graph import END, START, build_graph
from podium.server.dashboard.outcomes import read_history, summary
from podium.server.dashboard.timeline import timeline
from podium.store import InstanceRecord, JournalEntry, Store, SubscriptionRecord, open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def doc(body: str) -> str:
    return "document: {dsl: '1.0.3', namespace: t, name: o, version: '1.0.0'}\n" + body


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'podium.db'}")
    await opened.open()
    yield opened
    await opened.close()


async def ran(store: Store, text: str, data: Any = None) -> dict[str, str]:
    """The task states after running ``text`` to its end."""
    async with Runtime(store=store) as runtime:
        execution = await runtime.execute(text, data or {})
    record = await store.get_instance(execution.id)
    assert record is not None
    entries = await store.read_journal(record.id)
    return read_history(entries, build_graph(load(text).raw), record).states


async def test_completed_skipped_and_not_reached(store: Store) -> None:
    states = await ran(store, doc("""do:
  - pick:
      switch:
        - far: {when: .n > 1, then: far}
        - default: {then: continue}
  - near: {set: {at: near}}
  - skippedByIf: {if: .n > 100, set: {x: 1}}
  - far: {set: {at: far}, then: end}
  - afterEnd: {set: {x: 2}}
"""), {"n": 5})
    assert states == {
        START: "completed", "/do/0/pick": "completed", "/do/1/near": "skipped",
        "/do/2/skippedByIf": "skipped", "/do/3/far": "completed", END: "completed"}
    assert "/do/4/afterEnd" not in states  # not reached: the graph draws it plain


async def test_a_fault_colors_the_task_and_the_composites_around_it(store: Store) -> None:
    states = await ran(store, doc("""do:
  - outer:
      do:
        - fine: {set: {x: 1}}
        - boom:
            raise:
              error: {type: 'https://x/boom', status: 500, title: Boom}
        - never: {set: {x: 2}}
"""))
    assert states == {
        START: "completed", "/do/0/outer": "faulted", "/do/0/outer/do/0/fine": "completed",
        "/do/0/outer/do/1/boom": "faulted", END: "faulted"}


async def test_retries_and_a_catch(store: Store) -> None:
    text = doc("""do:
  - attempt:
      try:
        - boom:
            raise:
              error: {type: 'https://x/boom', status: 503, title: Boom}
      catch:
        retry:
          delay: {milliseconds: 1}
          limit: {attempt: {count: 2}}
        do:
          - handled: {set: {h: 1}}
""")
    async with Runtime(store=store) as runtime:
        execution = await runtime.execute(text, {})
    record = await store.get_instance(execution.id)
    assert record is not None
    history = read_history(await store.read_journal(record.id), build_graph(load(text).raw),
                           record)
    task = "/do/0/attempt"
    assert history.states[task] == "completed"
    assert history.states[f"{task}/try"] == "faulted"  # its last attempt faulted
    assert history.states[f"{task}/catch"] == "completed"
    assert history.states[f"{task}/try/0/boom"] == "faulted"
    assert history.runs[f"{task}/try/0/boom"] == 3
    assert history.retries[task] == 2
    assert [e.attempt for e in history.executions if e.reference.endswith("boom")] == [0, 1, 2]
    assert [t.purpose for t in history.timers] == ["retry", "retry"]

    chart = timeline(history, record, datetime.now(UTC), {task})
    labels = [row.label for row in chart.rows]
    assert labels == ["attempt", "boom@0", "boom@1", "boom@2", "handled@2"]
    attempt_row = chart.rows[0]
    assert [bar.kind for bar in attempt_row.bars] == ["completed", "retry", "retry"]
    assert attempt_row.bars[0].composite
    assert [row.bars[0].kind for row in chart.rows[1:4]] == ["faulted"] * 3


def record(status: str, **changes: Any) -> InstanceRecord:
    return InstanceRecord(id="i", namespace="t", name="o", version="1.0.0", status=status,
                          input={}, created_at=T0, updated_at=T0, started_at=T0, **changes)


def entry(seq: int, position: str, kind: str, data: Any = None) -> JournalEntry:
    if data is None and kind.startswith("task."):
        data = {"task": position.replace("@0", "").replace("[0]", "")}
    return JournalEntry("i", position, kind, T0 + timedelta(seconds=seq), data, seq=seq)


WAIT_THEN_LISTEN = doc("""do:
  - first: {set: {x: 1}}
  - pause: {wait: {minutes: 5}}
  - hear:
      listen:
        to:
          one: {with: {type: com.example.ping}}
""")


def test_running_and_waiting_tasks() -> None:
    graph = build_graph(load(WAIT_THEN_LISTEN).raw)
    due = (T0 + timedelta(minutes=5)).isoformat()
    entries = [
        entry(1, "/do/0/first", "task.started"), entry(2, "/do/0/first", "task.completed"),
        entry(3, "/do/1/pause", "task.started"),
        entry(4, "/do/1/pause", "timer", {"task": "/do/1/pause", "due": due}),
    ]
    waiting = read_history(entries, graph, record("waiting"), now=T0 + timedelta(seconds=10))
    assert waiting.states["/do/1/pause"] == "waiting"
    assert waiting.states["/do/0/first"] == "completed"
    chart = timeline(waiting, record("waiting"), T0 + timedelta(seconds=10))
    assert [bar.kind for bar in chart.rows[1].bars] == ["running", "wait"]

    entries += [entry(5, "/do/1/pause", "task.completed"), entry(6, "/do/2/hear", "task.started")]
    listening = SubscriptionRecord("i", "/do/2/hear", ("com.example.ping",), {}, None, T0)
    parked = read_history(entries, graph, record("waiting"), [listening])
    assert parked.states["/do/2/hear"] == "waiting"
    # an instance cancelled meanwhile leaves its task interrupted
    cancelled = read_history(entries, graph, record("cancelled"))
    assert cancelled.states["/do/2/hear"] == "interrupted"


def test_a_fork_branch_left_behind_is_interrupted() -> None:
    text = doc("""do:
  - race:
      fork:
        compete: true
        branches:
          - slow: {wait: {seconds: 9}}
          - quick: {set: {won: true}}
  - next: {wait: {seconds: 9}}
""")
    fork = "/do/0/race"
    slow, quick = f"{fork}/fork/branches/0/slow", f"{fork}/fork/branches/1/quick"
    entries = [
        entry(1, fork, "task.started"), entry(2, slow, "task.started"),
        entry(3, quick, "task.started"), entry(4, quick, "task.completed"),
        entry(5, fork, "task.completed"), entry(6, "/do/1/next", "task.started"),
    ]
    states = read_history(entries, build_graph(load(text).raw), record("running")).states
    assert states[slow] == "interrupted"
    assert states[quick] == "completed"
    assert states["/do/1/next"] == "running"


def test_an_operator_retry_voids_the_fault_it_retried() -> None:
    text = doc("do:\n  - call: {wait: {seconds: 1}}\n  - after: {set: {x: 1}}\n")
    error = {"type": "https://x/e", "status": 503, "title": "Down"}
    entries = [
        entry(1, "/do/0/call", "task.started"),
        entry(2, "/do/0/call", "task.faulted", {"task": "/do/0/call", "error": error}),
        entry(3, "/", "instance.retried", {"by": "dashboard:open", "status": "faulted",
                                           "after": "fault"}),
        entry(4, "/do/0/call", "task.started"),
    ]
    graph = build_graph(load(text).raw)
    history = read_history(entries, graph, record("running"))
    assert history.states["/do/0/call"] == "running"  # not faulted: that one was retried
    assert [(e.outcome, e.voided) for e in history.executions] == [("faulted", True),
                                                                   (None, False)]
    assert [(what, by) for _, what, by in history.actions] == [("retried", "dashboard:open")]
    assert summary(entries[1]) == "Down"
    assert summary(entries[2]) == "by dashboard:open, was faulted"
