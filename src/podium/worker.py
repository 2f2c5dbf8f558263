"""Running recorded instances: leases, heartbeats, control requests, and the
claim loop of ``podium worker``.

An instance is run by one process at a time: the one holding its lease. A
keeper renews the leases every third of their length; an instance whose lease
was lost is stopped locally at once, since another worker may have taken it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from podium.engine.errors import WorkflowError
from podium.engine.execution import Execution, execute
from podium.engine.state import Instance
from podium.store.base import (
    CANCEL,
    CANCELLED,
    RESUME,
    RUNNING,
    SUSPEND,
    InstanceRecord,
    LeaseLost,
    Store,
)

if TYPE_CHECKING:
    from podium.runtime import Runtime

log = logging.getLogger("podium.worker")

# A timer further away than this parks its instance out of memory (a wait of
# a day costs a row, not a coroutine); nearer ones are simply awaited.
PARK_AFTER_SECONDS = 5.0

# Ended instances and their journals are kept this long by default.
RETENTION = timedelta(days=30)
PURGE_EVERY_SECONDS = 300.0


@dataclass
class _Held:
    instance: Instance
    task: asyncio.Task[Execution]
    releasing: bool = False  # stopped to be run elsewhere, not cancelled by a user


@dataclass
class LeaseKeeper:
    """Renews the leases of the instances this runtime runs and relays control
    requests (suspend, cancel) made by other processes."""

    runtime: Runtime
    held: dict[str, _Held] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def hold(self, instance: Instance, task: asyncio.Task[Execution]) -> _Held:
        held = self.held[instance.id] = _Held(instance, task)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._renew_forever())
        return held

    def drop(self, instance_id: str) -> None:
        self.held.pop(instance_id, None)
        if not self.held and self._task is not None:
            self._task.cancel()
            self._task = None

    def release_all(self) -> None:
        """Stop every held instance so that another worker continues it."""
        for held in self.held.values():
            held.releasing = True
            held.task.cancel()

    async def _renew_forever(self) -> None:
        runtime = self.runtime
        store = runtime._store()
        interval = runtime.lease_seconds / 3
        while self.held:
            await asyncio.sleep(interval)
            try:
                records = await store.renew(runtime.worker_id, runtime.lease_seconds)
            except Exception:  # a store hiccup: try again before the lease runs out
                log.exception("renewing leases failed")
                continue
            current = {r.id: r for r in records}
            for instance_id, held in list(self.held.items()):
                record = current.get(instance_id)
                if record is None:
                    log.warning("lost the lease of %s; stopping it here", instance_id)
                    held.releasing = True
                    held.task.cancel()
                elif record.request == CANCEL:
                    held.task.cancel()
                elif record.request == SUSPEND:
                    held.instance.suspend()
                    await _clear_request(store, instance_id)
                elif record.request == RESUME:
                    # A resume that arrives while a relayed suspension has not yet
                    # unloaded the instance (it is still inside a task) undoes it;
                    # left alone, the instance would park as suspended although
                    # the last word was "resume".
                    held.instance.resume()
                    await _clear_request(store, instance_id)


async def _clear_request(store: Store, instance_id: str) -> None:
    # A failure here must not end the renewal loop: the request is simply seen
    # (and acted on, harmlessly) again at the next renewal.
    try:
        await store.update_instance(instance_id, request=None)
    except Exception:
        log.exception("clearing the control request of %s failed", instance_id)


def keeper(runtime: Runtime) -> LeaseKeeper:
    found: LeaseKeeper | None = getattr(runtime, "_lease_keeper", None)
    if found is None:
        found = LeaseKeeper(runtime)
        runtime._lease_keeper = found  # type: ignore[attr-defined]
    return found


async def run_durable(runtime: Runtime, instance: Instance, record: InstanceRecord) -> Execution:
    """Run a recorded instance that this runtime owns, and record how it ended."""
    store = runtime._store()
    current = asyncio.current_task()
    assert current is not None
    held = keeper(runtime).hold(instance, current)
    now = datetime.now(UTC)
    try:
        if record.status != RUNNING or record.started_at is None:
            await store.update_instance(
                record.id, status=RUNNING, started_at=record.started_at or now, wake_at=None
            )
        try:
            execution = await execute(instance, resumed=instance.journal.replaying)
        except asyncio.CancelledError:
            if held.releasing:
                # Left for another worker (shutdown, or the lease is already gone).
                await _shielded(store.release(runtime.worker_id, record.id))
                raise
            await _shielded(store.release(
                runtime.worker_id, record.id, status=CANCELLED, ended_at=datetime.now(UTC),
                request=None,
            ))
            raise
        ended = execution.status in ("completed", "faulted")
        try:
            await store.release(
                runtime.worker_id,
                record.id,
                status=execution.status,
                output=execution.output,
                error=execution.error.to_dict() if execution.error else None,
                ended_at=datetime.now(UTC) if ended else None,
                wake_at=execution.wake_at,
                request=None,
            )
        except LeaseLost:
            # Another worker took the instance (our lease ran out): its replay
            # decides the outcome, from the same journal.
            log.warning("lease of %s was lost before its end was recorded", record.id)
        return execution
    finally:
        keeper(runtime).drop(record.id)


async def _shielded(operation: asyncio.Future[None] | object) -> None:
    # Recording a cancellation must finish even though we are being cancelled.
    with contextlib.suppress(Exception):
        await asyncio.shield(operation)  # type: ignore[arg-type]


def _dead_locally(owner: str, me: str) -> bool:
    """An owner ``host:pid`` on this host whose process is gone."""
    host, _, pid = owner.rpartition(":")
    if owner == me or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Worker:
    """Claims instances from the store and runs them, up to ``concurrency`` at once."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int = 32,
        poll_seconds: float = 0.5,
        park_after: float = PARK_AFTER_SECONDS,
        retention: timedelta | None = RETENTION,
    ) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.park_after = park_after
        self.retention = retention
        self._next_purge = 0.0
        self.running: dict[str, asyncio.Task[Execution]] = {}
        self._first_claim = True
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then release what is held (it resumes
        elsewhere by replay) and return."""
        try:
            while not stop.is_set():
                await self._purge_if_due()
                free = self.concurrency - len(self.running)
                started = 0
                if free > 0:
                    started = await self._claim(free)
                if started and started == free:
                    continue  # more may be waiting
                waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
                waiters += list(self.running.values())  # type: ignore[arg-type]
                await asyncio.wait(
                    waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                waiters[0].cancel()
        finally:
            self._stopping = True
            keeper(self.runtime).release_all()
            if self.running:
                await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def _purge_if_due(self) -> None:
        """Retention: ended instances (and their journals) older than ``retention``
        are deleted, checked every few minutes by every worker (cheap and idempotent)."""
        if self.retention is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        try:
            purged = await self.runtime._store().purge(datetime.now(UTC) - self.retention)
        except Exception:
            log.exception("retention purge failed")
            return
        if purged:
            log.info("purged %d instances ended before the %s retention", purged,
                     self.retention)

    async def _claim(self, free: int) -> int:
        """Claim and start up to ``free`` instances; return how many started."""
        store = self.runtime._store()
        me = self.runtime.worker_id
        dead = [o for o in await store.owners() if _dead_locally(o, me)]
        if self._first_claim and not keeper(self.runtime).held:
            # A worker restarted under a stable --worker-id takes back at once
            # what its previous incarnation held.
            dead.append(me)
        self._first_claim = False
        claimed = await store.claim(me, free, self.runtime.lease_seconds, dead)
        for record in claimed:
            self._start(record)
        return len(claimed)

    def _start(self, record: InstanceRecord) -> None:
        task = asyncio.ensure_future(self._run(record))
        self.running[record.id] = task

        def forget(_: asyncio.Task[Execution]) -> None:
            self.running.pop(record.id, None)

        task.add_done_callback(forget)

    async def _run(self, record: InstanceRecord) -> Execution:
        what = f"{record.id} {record.namespace}/{record.name}:{record.version}"
        log.info("%s %s", "resumed" if record.started_at else "started", what)
        began = time.perf_counter()
        try:
            instance = await self.runtime.resume_instance(record)
        except Exception as exc:  # the definition is gone or broken: fault, do not loop
            log.exception("cannot resume %s", what)
            error = exc if isinstance(exc, WorkflowError) else WorkflowError.runtime(str(exc))
            await self.runtime._store().release(
                self.runtime.worker_id, record.id, status="faulted", error=error.to_dict(),
                ended_at=datetime.now(UTC),
            )
            return Execution(record.id, "faulted", error=error)
        instance.park_after = self.park_after
        try:
            execution = await run_durable(self.runtime, instance, record)
        except asyncio.CancelledError:
            log.info("%s %s", "released" if self._stopping else "cancelled", what)
            raise
        elapsed = f"in {(time.perf_counter() - began) * 1000:.0f} ms"
        if execution.error is not None:
            log.info("faulted %s %s: %s", what, elapsed,
                     execution.error.title or execution.error.type)
        elif execution.wake_at is not None:
            log.info("%s %s until %s", execution.status, what, execution.wake_at.isoformat())
        else:
            log.info("%s %s %s", execution.status, what, elapsed)
        return execution
