"""An instance never stays ``running`` because something went wrong (issue 7,
items 1, 12 and 24): an unexpected exception faults it, its history is bounded,
an outcome the store refuses faults the task, a failing store is waited for
(bounded), a cancellation is recorded even when the store hiccups, and shutdown
never waits for ever."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from podium import load
from podium.engine.journal import Journal
from podium.store import CANCELLED, FAULTED, RUNNING, Store, StoreError
from tests.durability.helpers import ended, eventually, in_status, journaled, runtime_on, working

RUNTIME_ERROR = "https://serverlessworkflow.io/spec/1.0.0/errors/runtime"

EXPLODING = """
document: {dsl: '1.0.3', namespace: robust, name: exploding, version: '1.0.0'}
do:
  - before: {set: {step: 1}}
  - explode: {set: {step: 2}}
"""


def exploding_listener(event: dict[str, Any]) -> None:
    """Stands in for a bug: an exception nobody expected, from inside the engine."""
    if event["type"].endswith("task.started.v1") and event["data"]["task"] == "/do/1/explode":
        raise RuntimeError("boom")


@pytest.fixture
def unretrieved(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """asyncio's complaints about task exceptions nobody retrieved, gathered at the end."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    found: list[logging.LogRecord] = []
    yield found
    gc.collect()
    found += [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert found == []


async def test_an_unexpected_exception_faults_the_instance_instead_of_leaving_it_running(
    store_url: str, store: Store, unretrieved: list[logging.LogRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with runtime_on(store_url, "worker-a", listeners=[exploding_listener]) as runtime:
        record, _ = await runtime.create_instance(load(EXPLODING), {})
        async with working(runtime):
            done = await ended(store, record.id)
    assert done.status == FAULTED and done.owner is None
    assert done.error is not None and done.error["type"] == RUNTIME_ERROR
    assert "boom" in done.error["detail"]
    # The traceback is in the log, for whoever fixes the bug.
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def starving_listener(event: dict[str, Any]) -> None:
    """Stands in for an allocation beyond the worker's --max-memory cap."""
    if event["type"].endswith("task.started.v1") and event["data"]["task"] == "/do/1/explode":
        raise MemoryError


async def test_running_out_of_memory_faults_the_instance(store_url: str, store: Store) -> None:
    async with runtime_on(store_url, "worker-a", listeners=[starving_listener]) as runtime:
        record, _ = await runtime.create_instance(load(EXPLODING), {})
        async with working(runtime):
            done = await ended(store, record.id)
    assert done.status == FAULTED and done.error is not None
    assert done.error["type"] == RUNTIME_ERROR
    assert "ran out of memory" in done.error["detail"]


LOOPING = """
document: {dsl: '1.0.3', namespace: robust, name: looping, version: '1.0.0'}
do:
  - guard:
      try:
        - spin:
            set: {n: '${ (.n // 0) + 1 }'}
            then: spin
      catch:
        do:
          - caught: {set: {caught: true}}
"""


async def test_an_instance_that_loops_for_ever_faults_at_the_history_limit(
    store_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Journal, "limit", 60)
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(LOOPING), {})
        async with working(runtime):
            done = await ended(store, record.id)
    # Past every try/catch: catching it would only loop on without a record.
    assert done.status == FAULTED and done.error is not None
    assert done.error["type"] == RUNTIME_ERROR
    assert done.error["title"] == "History Limit Reached"
    assert done.error["detail"].startswith("the instance's history reached 60 entries")
    assert done.error["instance"].startswith("/do/0/guard/try/0/spin")
    journal = await store.read_journal(record.id)
    # Up to the limit (appends come in twos and threes), then the fault itself,
    # which is recorded although it passes the limit.
    assert 58 <= len(journal[:-1]) <= 60
    assert journal[-1].kind == "task.faulted"
    assert journal[-1].data["error"]["title"] == "History Limit Reached"
    assert not [e for e in journal if e.position.startswith("/do/0/guard/catch")]


async def test_the_history_limit_is_fifty_thousand_entries(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'podium.db'}"
    async with runtime_on(url, "worker-a") as runtime:
        store = runtime.store
        assert store is not None
        record, _ = await runtime.create_instance(load(LOOPING), {})
        async with working(runtime):
            done = await ended(store, record.id, within=300)
        assert done.error is not None
        assert "reached 50,000 entries" in done.error["detail"]
        assert 49_998 <= len(await store.read_journal(record.id)) <= 50_001


BIG = """
document: {dsl: '1.0.3', namespace: robust, name: big, version: '1.0.0'}
do:
  - big:
      # Each half within what an expression may build (8 MiB); together too large
      # to record.
      set: {a: '${ "x" * 5000000 }', b: '${ "y" * 5000000 }'}
  - after: {set: {after: true}}
"""

BIG_CAUGHT = """
document: {dsl: '1.0.3', namespace: robust, name: big-caught, version: '1.0.0'}
do:
  - guard:
      try:
        - big:
            set: {a: '${ "x" * 5000000 }', b: '${ "y" * 5000000 }'}
      catch:
        errors: {with: {type: https://serverlessworkflow.io/spec/1.0.0/errors/runtime}}
        as: problem
        do:
          - note: {set: {caught: '${ $problem.detail }'}}
"""


async def test_an_outcome_too_large_to_record_faults_its_task(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "worker-a") as runtime:
        big, _ = await runtime.create_instance(load(BIG), {})
        caught, _ = await runtime.create_instance(load(BIG_CAUGHT), {})
        async with working(runtime):
            done, handled = await ended(store, big.id), await ended(store, caught.id)
    assert done.status == FAULTED and done.error is not None
    assert done.error["type"] == RUNTIME_ERROR and done.error["instance"] == "/do/0/big"
    assert "cannot be recorded" in done.error["detail"] and "MiB" in done.error["detail"]
    assert not [e for e in await store.read_journal(big.id) if e.position == "/do/1/after"]
    # Like any task fault, a try can catch it.
    assert handled.status == "completed", handled.error
    assert "larger than" in handled.output["caught"]


# a store that fails ------------------------------------------------------------------------

LONG_WAIT = """
document: {dsl: '1.0.3', namespace: robust, name: long-wait, version: '1.0.0'}
do:
  - pause: {wait: {seconds: 30}}
"""


@contextlib.contextmanager
def locked(url: str) -> Iterator[None]:
    """Another process holds the SQLite file's write lock (and keeps it)."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///").split("?")[0],
                                 isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def locking_url(url: str) -> str:
    # Give up waiting for the lock quickly: each write then fails "database is locked".
    return f"{url}?busy_timeout=0.2"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_cancellation_is_recorded_although_the_store_fails_for_a_moment(
    store_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="podium.worker")
    async with runtime_on(locking_url(store_url), "worker-a", lease_seconds=10) as runtime:
        handle = await runtime.start(load(LONG_WAIT), {})
        await journaled(store, handle.id, "timer", "/do/0/pause")
        with locked(store_url):
            handle.cancel()

            async def retrying() -> bool:
                return "recording the cancellation of" in caplog.text

            await eventually(retrying)
            record = await store.get_instance(handle.id)
            assert record is not None and record.status == RUNNING
        execution = await asyncio.wait_for(handle.result(), 10)
    assert execution.status == CANCELLED
    record = await store.get_instance(handle.id)
    assert record is not None and (record.status, record.owner) == (CANCELLED, None)
    assert [e.kind for e in await store.read_journal(handle.id)][-1] == "instance.cancelled"
    assert f"recorded the cancellation of {handle.id} after all" in caplog.text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_worker_waits_for_a_failing_store_then_gives_up(
    store_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="podium.worker")
    async with runtime_on(locking_url(store_url), "worker-a") as runtime:
        # A short outage: the worker carries on.
        async with working(runtime, store_patience=30) as worker:
            with locked(store_url):
                await eventually(lambda: _async("the store fails" in caplog.text))
            record, _ = await runtime.create_instance(load(EXPLODING), {})
            done = await ended(store, record.id)
            assert done.status == "completed"
            await eventually(lambda: _async("the store works again" in caplog.text))
        # A long one: it stops with the store's error, leaving nothing behind.
        worker = _worker(runtime, store_patience=1)
        stop = asyncio.Event()
        with locked(store_url), pytest.raises(StoreError, match="database is locked"):
            await asyncio.wait_for(worker.run(stop), 20)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_a_worker_survives_a_postgresql_restart(store_url: str, store: Store) -> None:
    """Every connection dropped at once, as a restart does: the worker reconnects."""
    import psycopg

    async with runtime_on(store_url, "worker-a") as runtime, working(runtime):
        first, _ = await runtime.create_instance(load(EXPLODING), {})
        assert (await ended(store, first.id)).status == "completed"
        database = store_url.rsplit("/", 1)[1]
        async with await psycopg.AsyncConnection.connect(
            store_url.rsplit("/", 1)[0] + "/postgres", autocommit=True
        ) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
        second, _ = await runtime.create_instance(load(EXPLODING), {})
        assert (await ended(store, second.id, within=20)).status == "completed"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_shutdown_abandons_what_cannot_stop_within_the_grace(
    store_url: str, store: Store
) -> None:
    async with runtime_on(locking_url(store_url), "worker-a", lease_seconds=10) as runtime:
        record, _ = await runtime.create_instance(load(LONG_WAIT), {})
        worker = _worker(runtime, grace_seconds=0.5, park_after=60)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await journaled(store, record.id, "timer", "/do/0/pause")
        with locked(store_url):
            # Releasing needs the store, which is locked: it cannot finish in time.
            stop.set()
            await asyncio.wait_for(task, 5)
            assert worker.abandoned == [record.id]
        # Left to its lease: still running, still owned, until the lease expires.
        held = await in_status(store, record.id, RUNNING)
        assert held.owner == "worker-a"


def _worker(runtime: Any, **options: Any) -> Any:
    from podium.worker import Worker

    options.setdefault("poll_seconds", 0.05)
    return Worker(runtime, **options)


async def _async(value: bool) -> bool:
    return value
