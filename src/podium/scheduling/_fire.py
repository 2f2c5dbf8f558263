"""Firing due schedules: the loop every ``podium worker`` runs.

Exactly one fire per due time, however many workers run: a worker fires only
the schedule rows whose lease it took (``Store.claim_schedules``), and every
fire starts its instance under the key ``schedule:<namespace>/<name>:<due>``,
so a worker whose lease ran out in the middle of a fire cannot double it
either: whoever fires the same due time again finds the instance already
there.

Missed fires are not caught up: the next due time is computed from now, so a
worker that was down for an hour fires a missed ``cron`` (or ``every``) once
on its return, not once per missed time.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from podium.engine.lifecycle import utc_iso
from podium.errors import WorkflowError
from podium.scheduling._due import next_due
from podium.store.base import ENDED, InstanceRecord, ScheduleRecord, Store

if TYPE_CHECKING:
    from podium.runtime import Runtime

log = logging.getLogger("podium.scheduling")

# How often a worker looks for due schedules: the precision of a fire.
TICK_SECONDS = 1.0


def schedule_key(namespace: str, name: str, due: datetime) -> str:
    """The idempotency key of the instance a time schedule starts for ``due``."""
    return f"schedule:{namespace}/{name}:{utc_iso(due)}"


async def start_scheduled(
    runtime: Runtime, namespace: str, name: str, version: str | None, input: Any, key: str
) -> InstanceRecord:
    """Create a pending instance of the deployed definition (``version``, or the
    highest) for a worker to run; a second call with the same ``key`` returns
    the instance the first one created."""
    definition = await runtime.registry.get(namespace, name, version)
    record, _ = await runtime.create_instance(definition, input, key=key)
    return record


class Scheduler:
    """Fires the store's due schedules from a worker: call ``tick`` often (it
    looks at the store at most every ``interval`` seconds)."""

    def __init__(self, runtime: Runtime, *, interval: float = TICK_SECONDS) -> None:
        self.runtime = runtime
        self.interval = interval
        self._next_look = 0.0

    async def tick(self) -> list[InstanceRecord]:
        """Fire what is due now; returns the instances started (or found, for a
        due time fired before). Store errors are raised (the worker retries)."""
        if time.monotonic() < self._next_look:
            return []
        self._next_look = time.monotonic() + self.interval
        store = self.runtime._store()
        now = datetime.now(UTC)
        await self._arm_after(store, now)
        claimed = await store.claim_schedules(self.runtime.worker_id,
                                              self.runtime.lease_seconds, now)
        started: list[InstanceRecord] = []
        for schedule in claimed:
            instance = await self._fire(store, schedule, now)
            if instance is not None:
                started.append(instance)
        return started

    async def _fire(
        self, store: Store, schedule: ScheduleRecord, now: datetime
    ) -> InstanceRecord | None:
        assert schedule.next_due is not None  # claimed: it was due
        due = schedule.next_due
        what = f"{schedule.namespace}/{schedule.name}:{schedule.version}"
        try:
            instance: InstanceRecord | None = await start_scheduled(
                self.runtime, schedule.namespace, schedule.name, schedule.version, {},
                schedule_key(schedule.namespace, schedule.name, due),
            )
        except WorkflowError as exc:  # the definition is gone or cannot be loaded
            log.warning("schedule %s could not start an instance for %s: %s", what,
                        utc_iso(due), exc.detail or exc.title)
            instance = None
        following = self._following(schedule, due, now, started=instance is not None)
        recorded = await store.fired(
            schedule.namespace, schedule.name, self.runtime.worker_id, due=due,
            next_due=following, instance_id=instance.id if instance else None,
        )
        if not recorded:
            # Replaced by a newer deploy, or our lease ran out: the key kept the fire single.
            log.warning("schedule %s changed hands while it fired for %s", what, utc_iso(due))
        elif instance is not None:
            log.info("schedule %s fired for %s: instance %s", what, utc_iso(due), instance.id)
        return instance

    @staticmethod
    def _following(
        schedule: ScheduleRecord, due: datetime, now: datetime, *, started: bool
    ) -> datetime | None:
        """The next due time: from the one just fired, unless that is past
        already (fires were missed), then from now."""
        if schedule.kind == "after":
            # Armed when the instance ends (_arm_after); with none, try again later.
            return None if started else next_due("after", schedule.spec, now)
        following = next_due(schedule.kind, schedule.spec, due)
        if following is not None and following <= now:
            following = next_due(schedule.kind, schedule.spec, now)
        return following

    async def _arm_after(self, store: Store, now: datetime) -> None:
        """``after`` schedules whose last instance ended are due that long after."""
        for schedule in await store.list_schedules():
            if schedule.kind != "after" or schedule.next_due is not None \
                    or schedule.last_instance is None:
                continue
            instance = await store.get_instance(schedule.last_instance)
            if instance is not None and instance.status not in ENDED:
                continue
            # Purged already: it ended long ago.
            ended = (instance.ended_at or instance.updated_at) if instance is not None else now
            due = next_due("after", schedule.spec, ended)
            assert due is not None
            await store.arm_schedule(schedule.namespace, schedule.name,
                                     last_instance=schedule.last_instance, next_due=due)
