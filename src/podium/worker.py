"""Running recorded instances: leases, heartbeats, control requests, and the
claim loop of ``podium worker``.

An instance is run by one process at a time: the one holding its lease. A
keeper renews the leases every third of their length; an instance whose lease
was lost is stopped locally at once, since another worker may have taken it.

Robustness (README "Poison instances" and "Durability"):

- An instance never stays ``running`` because of an exception: anything that
  escapes the engine faults it with a runtime error saying it is an internal
  error (logged with its traceback), and recording how it ended is retried
  until it is recorded or the lease is gone (then another worker replays it).
- Poison instances are quarantined: the store counts, at each takeover, how
  often an instance stopped its worker without making progress (see
  ``Store.claim``); the claiming worker faults one that reached
  ``max_crashes`` instead of running it again.
- A store that fails is retried for a bounded time, then the worker stops with
  the store's error (``podium worker`` exits 2); a store that is corrupt stops
  it at once.
- Shutdown releases what is held and waits a few seconds at most; what is still
  stuck then is abandoned (its lease expires and another worker resumes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from podium.engine.errors import RUNTIME, WorkflowError
from podium.engine.execution import Execution, execute, internal_error
from podium.engine.journal import FAULTED as TASK_FAULTED
from podium.engine.journal import RELEASED, HistoryFull, JournalUnavailable
from podium.engine.lifecycle import utc_iso
from podium.engine.scope import WORKING_ON
from podium.engine.state import Instance
from podium.limits import MAX_CRASHES
from podium.scheduling import Scheduler
from podium.store.base import (
    CANCEL,
    CANCELLED,
    COMPLETED,
    FAULTED,
    INSTANCE_CANCELLED,
    INSTANCE_SUSPENDED,
    QUARANTINED,
    RESUME,
    RESUMED,
    RUNNING,
    SUSPEND,
    SUSPENDED,
    WAITING,
    InstanceRecord,
    JournalEntry,
    LeaseLost,
    Store,
    StoreError,
)

if TYPE_CHECKING:
    from podium.runtime import Runtime

log = logging.getLogger("podium.worker")
T = TypeVar("T")

# A timer further away than this parks its instance out of memory (a wait of
# a day costs a row, not a coroutine); nearer ones are simply awaited.
PARK_AFTER_SECONDS = 5.0

# Ended instances and their journals are kept this long by default.
RETENTION = timedelta(days=30)
PURGE_EVERY_SECONDS = 300.0

# On shutdown, how long the instances being released may take to stop.
SHUTDOWN_GRACE_SECONDS = 5.0

# How long a worker keeps trying a store that fails as if it might recover (a
# PostgreSQL restart, a full disk), before it gives up with the store's error.
STORE_PATIENCE_SECONDS = 60.0

# Errors outside instances, by kind, told to ``Runtime.report_error`` (podium.telemetry
# counts them): a store operation failed, a lease was lost to another worker, an
# unexpected exception escaped the engine, an instance was quarantined.
STORE_ERROR, LEASE_LOST, INTERNAL_ERROR, QUARANTINE = (
    "store", "lease_lost", "internal", "quarantined"
)


@dataclass
class _Held:
    instance: Instance
    task: asyncio.Task[Any]
    lease_until: float  # time.monotonic() when the lease runs out, unless renewed
    releasing: bool = False  # stopped to be run elsewhere, not cancelled by a user
    # Its end (or park) is being recorded: the release gives the lease up, so a
    # renewal that no longer finds it owned says nothing about another worker.
    ending: bool = False


@dataclass
class LeaseKeeper:
    """Renews the leases of the instances this runtime runs and relays control
    requests (suspend, cancel) made by other processes."""

    runtime: Runtime
    held: dict[str, _Held] = field(default_factory=dict)
    # The store failing to renew: since when (time.monotonic()), and its error.
    failing_since: float | None = None
    failure: StoreError | None = None
    _task: asyncio.Task[None] | None = None

    def hold(self, instance: Instance, task: asyncio.Task[Any]) -> _Held:
        lease_until = time.monotonic() + self.runtime.lease_seconds
        held = self.held[instance.id] = _Held(instance, task, lease_until)
        if self._task is None or self._task.done():
            # Its own context: not that of the instance it happened to start for.
            self._task = asyncio.get_running_loop().create_task(
                self._renew_forever(), context=contextvars.Context())
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
            held.task.cancel(RELEASED)

    async def _renew_forever(self) -> None:
        interval = self.runtime.lease_seconds / 3
        while self.held:
            await asyncio.sleep(interval)
            try:
                await self._renew()
            except Exception:  # a bug; the next renewal tries again
                log.exception("renewing leases failed")

    async def _renew(self) -> None:
        runtime = self.runtime
        store = runtime._store()
        asked = time.monotonic()
        try:
            records = await store.renew(runtime.worker_id, runtime.lease_seconds)
        except StoreError as exc:
            runtime.report_error(STORE_ERROR)
            # Try again before the leases run out; the worker decides when to give up.
            if self.failing_since is None:
                self.failing_since = asked
                log.warning("renewing leases failed: %s", exc)
            self.failure = exc
            return
        if self.failing_since is not None:
            log.info("renewing leases works again")
        self.failing_since = self.failure = None
        current = {r.id: r for r in records}
        for instance_id, held in list(self.held.items()):
            record = current.get(instance_id)
            if record is None and held.ending:
                continue
            if record is None:
                runtime.report_error(LEASE_LOST)
                log.warning("lost the lease of %s; stopping it here", instance_id)
                held.releasing = True
                held.task.cancel(RELEASED)
                continue
            held.lease_until = asked + runtime.lease_seconds
            if record.request == CANCEL:
                held.task.cancel()
            elif record.request == SUSPEND:
                held.instance.suspend()  # it leaves memory at its next task
                await _clear_request(store, instance_id)
            elif record.request == RESUME:
                # A resume that arrives while a relayed suspension has not yet
                # unloaded the instance (it is still inside a task) undoes it;
                # left alone, the instance would park as suspended although
                # the last word was "resume".
                held.instance.resume()
                await _clear_request(store, instance_id, _line(runtime, instance_id, RESUMED))


def _line(runtime: Runtime, instance_id: str, kind: str, **data: Any) -> JournalEntry:
    """A history line about the instance as a whole, written by this worker."""
    return JournalEntry(instance_id, "/", kind, datetime.now(UTC), data or None,
                        runtime.worker_id)


async def _clear_request(store: Store, instance_id: str, line: JournalEntry | None = None) -> None:
    # A failure here must not end the renewal loop: the request is simply seen
    # (and acted on, harmlessly) again at the next renewal.
    try:
        if line is not None:
            await store.append([line])
        await store.update_instance(instance_id, request=None)
    except StoreError as exc:
        log.warning("clearing the control request of %s failed: %s", instance_id, exc)


def keeper(runtime: Runtime) -> LeaseKeeper:
    found: LeaseKeeper | None = getattr(runtime, "_lease_keeper", None)
    if found is None:
        found = LeaseKeeper(runtime)
        runtime._lease_keeper = found  # type: ignore[attr-defined]
    return found




async def run_durable(runtime: Runtime, instance: Instance, record: InstanceRecord) -> Execution:
    """Run a recorded instance that this runtime owns, and record how it ended.

    Never leaves it ``running`` because of an exception: an unexpected one faults
    it (see ``internal_error``). A store failure stops it unended, left to be
    resumed by replay, and is raised (``StoreError``); cancellation is recorded
    (or the instance released, when it is left for another worker) and raised."""
    store = runtime._store()
    current = asyncio.current_task()
    assert current is not None
    held = keeper(runtime).hold(instance, current)
    history: list[JournalEntry] = []
    try:
        try:
            if record.status != RUNNING or record.started_at is None:
                await store.update_instance(
                    record.id, status=RUNNING, started_at=record.started_at or instance.started_at,
                    wake_at=None,
                )
            execution = await execute(instance, resumed=instance.journal.resumed)
        except asyncio.CancelledError:
            await _record_stop(runtime, held, record)
            raise
        except HistoryFull as full:
            execution = Execution(record.id, FAULTED, error=full.error)
            # The task's fault is recorded although the history is full.
            history.append(JournalEntry(
                record.id, full.position, TASK_FAULTED, datetime.now(UTC),
                {"task": full.error.instance, "error": full.error.to_dict()}, runtime.worker_id,
            ))
        except (JournalUnavailable, StoreError) as exc:
            # Left unended, to be resumed by replay once the store works again.
            cause = exc.cause if isinstance(exc, JournalUnavailable) else exc
            await _persist(runtime, held, "release",
                           lambda: store.release(runtime.worker_id, record.id))
            raise cause from None
        except Exception as exc:
            runtime.report_error(INTERNAL_ERROR)
            log.exception("internal error running %s", record.id)
            execution = Execution(record.id, FAULTED, error=internal_error(exc, "/"))
        if execution.status == SUSPENDED:
            history.append(_line(runtime, record.id, INSTANCE_SUSPENDED, status=RUNNING))
        held.ending = True
        return await _record_end(runtime, held, record, execution, history)
    finally:
        keeper(runtime).drop(record.id)


async def _record_stop(runtime: Runtime, held: _Held, record: InstanceRecord) -> None:
    """The instance was cancelled: by a user (recorded as cancelled) or to run
    elsewhere (released, untouched). The record must be written although the
    caller is being cancelled, so it runs in a task of its own."""
    store = runtime._store()
    if held.releasing:
        # Left for another worker (shutdown, or the lease is already gone).
        write: Callable[[], Awaitable[None]] = lambda: store.release(  # noqa: E731
            runtime.worker_id, record.id, crashes=0)
        what = "release"
    else:
        line = _line(runtime, record.id, INSTANCE_CANCELLED, status=RUNNING)
        write = lambda: store.release(  # noqa: E731
            runtime.worker_id, record.id, status=CANCELLED, ended_at=datetime.now(UTC),
            request=None, crashes=0, history=[line])
        what = "cancellation"
    await _to_the_end(_persist(runtime, held, what, write))


async def _to_the_end(recording: Coroutine[Any, Any, T]) -> T:
    """Await a record in a task of its own, through any cancellation of the caller
    (a shutdown cancels everything): a record half written helps nobody, and
    ``_persist`` bounds how long it may take."""
    task = asyncio.ensure_future(recording)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue
    return task.result()


async def _record_end(
    runtime: Runtime, held: _Held, record: InstanceRecord, execution: Execution,
    history: list[JournalEntry],
) -> Execution:
    """Record how the instance ended (or parked); an outcome the store refuses (not
    JSON, too large) faults the instance instead."""
    store = runtime._store()
    ended = execution.status in (COMPLETED, FAULTED)

    def write() -> Awaitable[None]:
        return store.release(
            runtime.worker_id,
            record.id,
            status=execution.status,
            output=execution.output,
            error=execution.error.to_dict() if execution.error else None,
            ended_at=datetime.now(UTC) if ended else None,
            wake_at=execution.wake_at,
            request=None,
            crashes=0,  # a clean end or park: the crash series is over
            history=history,
            # A listener parks: an event delivered meanwhile makes it due at once.
            wake_if_mailbox=execution.status == WAITING,
            # Left behind only by a listen that did not close (a timeout, a fault).
            listened=held.instance.listening > 0 or execution.status != COMPLETED,
        )

    try:
        await _to_the_end(_persist(runtime, held, "end", write))
    except (TypeError, ValueError) as exc:
        # ``write`` reads these two afresh: the fault is recorded instead.
        error = WorkflowError.runtime(f"the workflow's output cannot be recorded: {exc}", "/")
        execution = Execution(record.id, FAULTED, error=error)
        ended = True
        await _to_the_end(_persist(runtime, held, "end", write))
    return execution


async def _persist(
    runtime: Runtime, held: _Held, what: str, write: Callable[[], Awaitable[None]]
) -> bool:
    """Write until it is recorded, or the lease is gone (another worker then
    replays the instance from its journal and decides again); never drops a
    failure silently. Values the store refuses raise (TypeError, ValueError)."""
    instance_id = held.instance.id
    pause = 0.1
    # Renewals may go on while this write fails for a reason of its own.
    give_up = time.monotonic() + 6 * runtime.lease_seconds
    warned = False
    while True:
        try:
            await write()
            if warned:
                log.info("recorded the %s of %s after all", what, instance_id)
            return True
        except LeaseLost:
            runtime.report_error(LEASE_LOST)
            # Another worker took the instance (our lease ran out): its replay
            # decides the outcome, from the same journal.
            log.warning("lease of %s was lost before its %s was recorded", instance_id, what)
            return False
        except StoreError as exc:
            runtime.report_error(STORE_ERROR)
            now = time.monotonic()
            if not exc.transient:  # corrupt, closed: trying again changes nothing
                log.warning("could not record the %s of %s (%s); another worker resumes it by"
                            " replay once its lease expires", what, instance_id, exc)
                return False
            if now + pause >= min(held.lease_until, give_up):
                log.warning("could not record the %s of %s before its lease ran out (%s);"
                            " another worker resumes it by replay", what, instance_id, exc)
                return False
            if not warned:
                log.warning("recording the %s of %s failed (%s); retrying", what,
                            instance_id, exc)
                warned = True
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)


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


def quarantine_error(crashes: int) -> WorkflowError:
    return WorkflowError(
        RUNTIME, title="Quarantined", instance="/",
        detail=f"this instance stopped its worker {crashes} times without making progress and"
        " is quarantined; `podium instances retry ID` runs it again",
    )


def took(seconds: float) -> str:
    """A duration for people: ``16 ms``, ``4.2 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


class Worker:
    """Claims instances from the store and runs them, up to ``concurrency`` at once.

    ``max_crashes``: takeovers without progress after which an instance is
    quarantined (faulted, not run again). ``grace_seconds``: how long shutdown
    waits for the instances it releases. ``store_patience``: how long a failing
    store is retried before ``run`` raises its ``StoreError``. ``schedules``: also
    fire the store's due schedules (``podium.scheduling``)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int = 32,
        poll_seconds: float = 0.5,
        park_after: float = PARK_AFTER_SECONDS,
        retention: timedelta | None = RETENTION,
        max_crashes: int = MAX_CRASHES,
        grace_seconds: float = SHUTDOWN_GRACE_SECONDS,
        store_patience: float = STORE_PATIENCE_SECONDS,
        schedules: bool = True,
    ) -> None:
        if max_crashes < 1:
            raise ValueError("max_crashes must be at least 1")
        self.runtime = runtime
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.park_after = park_after
        self.retention = retention
        self.max_crashes = max_crashes
        self.grace_seconds = grace_seconds
        self.store_patience = store_patience
        self._next_purge = 0.0
        self.running: dict[str, asyncio.Task[Execution | None]] = {}
        # Ids still stopping when the shutdown grace ran out (left to their leases).
        self.abandoned: list[str] = []
        self._first_claim = True
        self._stopping = False
        self._failing_since: float | None = None
        # A takeover this worker runs alone (see _claim), until it makes progress.
        self._alone: str | None = None
        self.scheduler: Scheduler | None = Scheduler(runtime) if schedules else None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then release what is held (it resumes
        elsewhere by replay) and return. Raises ``StoreError`` when the store
        cannot be used (corrupt, or failing for longer than ``store_patience``)."""
        # Matches stored events to listeners while this worker runs (one process at
        # a time holds its lease); deliveries make parked listeners due at once.
        dispatcher = self.runtime.dispatcher
        dispatcher.ensure_running()
        try:
            while not stop.is_set():
                dispatcher.due.clear()
                started = free = 0
                try:
                    await self._purge_if_due()
                    await self._fire_schedules()
                    free = self.concurrency - len(self.running)
                    if free > 0:
                        started = await self._claim(free)
                except StoreError as exc:
                    self._store_failed(exc)
                else:
                    self._store_works()
                self._check_renewals()
                if started and started == free:
                    continue  # more may be waiting
                waiters: list[asyncio.Future[Any]] = [
                    asyncio.ensure_future(stop.wait()), asyncio.ensure_future(dispatcher.due.wait())
                ]
                waiters += list(self.running.values())
                await asyncio.wait(
                    waiters, timeout=self._pause(), return_when=asyncio.FIRST_COMPLETED
                )
                waiters[0].cancel()
                waiters[1].cancel()
        finally:
            self._stopping = True
            await self._release_all()

    async def _release_all(self) -> None:
        keeper(self.runtime).release_all()
        if not self.running:
            return
        for task in self.running.values():
            task.cancel(RELEASED)  # also those claimed but not yet running (see _execute)
        tasks = list(self.running.values())
        _, pending = await asyncio.wait(tasks, timeout=self.grace_seconds)
        if pending:
            self.abandoned = [i for i, task in self.running.items() if task in pending]
            log.warning(
                "abandoned %d instance(s) still stopping after %gs: %s (their leases expire,"
                " then another worker resumes them)", len(self.abandoned), self.grace_seconds,
                " ".join(self.abandoned),
            )

    # the store failing ---------------------------------------------------------------------

    def _pause(self) -> float:
        if self._failing_since is None:
            return self.poll_seconds
        # Back off while the store fails, but look again well within a lease.
        return min(max(self.poll_seconds, 1.0), self.runtime.lease_seconds / 3)

    def _store_failed(self, exc: StoreError) -> None:
        self.runtime.report_error(STORE_ERROR)
        now = time.monotonic()
        if not exc.transient:
            raise exc  # corrupt, or missing tables: waiting will not mend it
        if self._failing_since is None:
            self._failing_since = now
            log.error("the store fails: %s; retrying for up to %gs", exc, self.store_patience)
        elif now - self._failing_since > self.store_patience:
            raise StoreError(
                f"{exc} (the store failed for {now - self._failing_since:.0f}s)", transient=True
            ) from exc

    def _store_works(self) -> None:
        if self._failing_since is not None:
            log.info("the store works again after %s", took(time.monotonic() - self._failing_since))
            self._failing_since = None

    def _check_renewals(self) -> None:
        """Lease renewals fail (perhaps although claims work): the same patience."""
        lease_keeper = keeper(self.runtime)
        failure, since = lease_keeper.failure, lease_keeper.failing_since
        if failure is None or since is None:
            return
        failed_for = time.monotonic() - since
        if not failure.transient or failed_for > self.store_patience:
            raise StoreError(f"{failure} (renewing leases failed for {failed_for:.0f}s)")

    async def _purge_if_due(self) -> None:
        """Retention: ended instances (and their journals) older than ``retention``
        are deleted, checked every few minutes by every worker (cheap and idempotent)."""
        if self.retention is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        try:
            purged = await self.runtime._store().purge(datetime.now(UTC) - self.retention)
        except StoreError:
            self._next_purge = 0.0  # as soon as the store works again
            raise
        if purged:
            log.info("purged %d instances ended before the %s retention", purged,
                     self.retention)

    async def _fire_schedules(self) -> None:
        """Start the instances of the schedules that are due (``podium.scheduling``)."""
        if self.scheduler is not None:
            await self.scheduler.tick()

    # claiming and running ------------------------------------------------------------------

    async def _claim(self, free: int) -> int:
        """Claim and start up to ``free`` instances; return how many started.

        An instance quarantined must have stopped its worker by itself: a
        takeover that crashed before is a *suspect* and runs alone in a worker,
        so that if it stops this one too, the crash is its own and no
        neighbour's; only such crashes count towards quarantine (README "Poison
        instances"). A worker holding nothing takes a suspect before anything
        else; one with suspects waiting finishes what it runs first; a suspect
        that records progress, or waits for a timer, is one no longer and runs
        beside others."""
        store = self.runtime._store()
        me = self.runtime.worker_id
        if self._alone is not None and not self._cleared(self._alone):
            return 0
        self._alone = None
        dead = [o for o in await store.owners() if _dead_locally(o, me)]
        if self._first_claim and not keeper(self.runtime).held:
            # A worker restarted under a stable --worker-id takes back at once
            # what its previous incarnation held.
            dead.append(me)
        self._first_claim = False
        lease = self.runtime.lease_seconds
        if not self.running:
            taken = await store.claim(me, 1, lease, dead, alone=True)
            if taken:
                self._alone = taken[0].id
                self._start(taken[0])
                return 1
        elif await store.suspects_waiting(me, dead):
            return 0  # finish what runs, then take one alone
        claimed = await store.claim(me, free, lease, dead, alone=False)
        for record in claimed:
            if record.id not in self.running:  # else: its expired lease, renewed
                self._start(record)
        return len(claimed)

    def _cleared(self, instance_id: str) -> bool:
        """Whether the suspect run alone is one no longer: it ended or parked,
        recorded progress, or waits for a timer (nothing runs for it)."""
        if instance_id not in self.running:
            return True
        held = keeper(self.runtime).held.get(instance_id)
        if held is None:
            return False
        return held.instance.journal.appended > 0 or held.instance.sleeping > 0

    def _start(self, record: InstanceRecord) -> None:
        task = asyncio.ensure_future(self._run(record))
        self.running[record.id] = task

        def forget(_: asyncio.Task[Execution | None]) -> None:
            self.running.pop(record.id, None)

        task.add_done_callback(forget)

    async def _run(self, record: InstanceRecord) -> Execution | None:
        """Run one claimed instance and log how it went. Never raises but
        ``CancelledError`` (no "Task exception was never retrieved")."""
        what = f"{record.id} {record.namespace}/{record.name}:{record.version}"
        # Every line logged meanwhile names the instance (JSON logs: podium.telemetry).
        WORKING_ON.set((record.id, f"{record.namespace}/{record.name}"))
        try:
            if record.crashes >= self.max_crashes:
                return await self._quarantine(record, what)
            return await self._execute(record, what)
        except asyncio.CancelledError:
            log.info("%s %s", "released" if self._stopping else "cancelled", what)
            raise
        except StoreError as exc:
            self.runtime.report_error(STORE_ERROR)
            log.warning("released %s: the store failed: %s", what, exc)
        except Exception:
            self.runtime.report_error(INTERNAL_ERROR)
            log.exception("internal error running %s", what)
        return None

    async def _execute(self, record: InstanceRecord, what: str) -> Execution:
        runtime = self.runtime
        crashed = f" (after {record.crashes} crash{'es' if record.crashes > 1 else ''})"
        log.info("%s %s%s", "resumed" if record.started_at else "started", what,
                 crashed if record.crashes else "")
        try:
            instance = await runtime.resume_instance(record)
        except asyncio.CancelledError:
            # Stopped before it ran: hand the claim back at once rather than make the
            # next worker wait for the lease to expire.
            release = runtime._store().release(runtime.worker_id, record.id)
            with contextlib.suppress(StoreError):  # then the lease expires: no loss
                await asyncio.shield(release)
            raise
        except StoreError:
            raise
        except Exception as exc:  # the definition is gone or broken: fault, do not loop
            runtime.report_error(INTERNAL_ERROR)
            log.exception("cannot resume %s", what)
            error = exc if isinstance(exc, WorkflowError) else WorkflowError.runtime(str(exc))
            await runtime._store().release(
                runtime.worker_id, record.id, status=FAULTED, error=error.to_dict(),
                ended_at=datetime.now(UTC), crashes=0,
            )
            return Execution(record.id, FAULTED, error=error)
        instance.park_after = self.park_after
        execution = await run_durable(runtime, instance, record)
        # Since the instance first started, across parks, restarts and crashes.
        elapsed = f"in {took((datetime.now(UTC) - instance.started_at).total_seconds())}"
        if execution.error is not None:
            error = execution.error
            detail = f": {error.detail}" if error.detail else ""
            log.info("faulted %s %s: %s%s (at %s)", what, elapsed, error.title or error.type,
                     detail, error.instance or "/")
        elif execution.wake_at is not None:
            log.info("%s %s until %s", execution.status, what, utc_iso(execution.wake_at))
        else:
            log.info("%s %s %s", execution.status, what, elapsed)
        return execution

    async def _quarantine(self, record: InstanceRecord, what: str) -> Execution | None:
        """Fault an instance that keeps stopping its worker, instead of running it
        (and losing another worker to it). The crash count stays: it is what marks
        the instance quarantined, until ``podium instances retry``."""
        self.runtime.report_error(QUARANTINE)
        error = quarantine_error(record.crashes)
        line = _line(self.runtime, record.id, QUARANTINED, crashes=record.crashes,
                     limit=self.max_crashes)
        try:
            await self.runtime._store().release(
                self.runtime.worker_id, record.id, status=FAULTED, error=error.to_dict(),
                ended_at=datetime.now(UTC), request=None, history=[line],
            )
        except LeaseLost:
            log.warning("lease of %s was lost before its quarantine was recorded", record.id)
            return None
        log.warning("quarantined %s: it stopped its worker %d times without making progress",
                    what, record.crashes)
        return Execution(record.id, FAULTED, error=error)
