"""The store methods, once: encode in the caller, then queue a write or run a read.

A backend supplies the dialect and three primitives: ``_submit`` (queue a write for
the group-committing writer), ``_read`` (run an operation on a read connection)
and ``open``/``close``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from podium.config import display_url
from podium.store import _event_operations as event_ops
from podium.store import _operations as ops
from podium.store import _rows
from podium.store import _schedule_operations as schedule_ops
from podium.store import _stats_operations as stats_ops
from podium.store._batch import Op, Tx, Write
from podium.store._dialect import Dialect, utc
from podium.store.base import (
    COMMANDS,
    ActiveCounts,
    DefinitionRecord,
    Delivery,
    EventRecord,
    InstanceQuery,
    InstanceRecord,
    InstanceStats,
    JournalEntry,
    ScheduleRecord,
    StoreError,
    SubscriptionRecord,
)
from podium.store.migrations import migrate

T = TypeVar("T")


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs (the one rule for
    passwords in URLs: ``podium.config.display_url``)."""
    return display_url(url)


class SQLStore(ABC):
    """A ``Store`` over SQL; see ``podium.store.base.Store`` for the semantics."""

    dialect: ClassVar[Dialect]

    def __init__(self, url: str) -> None:
        self.url = url
        self._state = "new"  # new -> open -> closed

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact(self.url)} {self._state}>"

    # backend primitives -----------------------------------------------------------------

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def _submit(self, write: Write) -> None:
        """Queue a write; its future resolves once its batch committed (or failed)."""

    @abstractmethod
    async def _read(self, op: Op[T]) -> T: ...

    def _check_open(self) -> None:
        if self._state != "open":
            raise StoreError(
                f"store {redact(self.url)} is {'closed' if self._state == 'closed' else 'not open'}"
            )

    async def _write(self, op: Op[T]) -> T:
        self._check_open()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._submit(Write(future, op=op))
        return await future

    async def _migrate(self) -> list[str]:
        """Apply migrations through the writer (called by ``open``)."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._submit(Write(future, op=migrate))
        return await future

    # definitions ------------------------------------------------------------------------

    async def put_definition(self, record: DefinitionRecord) -> bool:
        params = _rows.definition_params(self.dialect, record)
        document = _rows.normalized_json(record.document)
        resources = record.resources
        return await self._write(lambda tx: ops.put_definition(tx, params, document, resources))

    async def put_resources(self, contents: Mapping[str, str]) -> None:
        if not contents:
            return
        now = datetime.now(UTC)
        rows = [_rows.resource_params(self.dialect, digest, text, now)
                for digest, text in contents.items()]
        await self._write(lambda tx: ops.put_resources(tx, rows))

    async def get_resources(self, digests: Sequence[str]) -> dict[str, str]:
        self._check_open()
        if not digests:
            return {}
        wanted = list(dict.fromkeys(digests))
        return await self._read(lambda tx: ops.get_resources(tx, wanted))

    async def get_definition(
        self, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord | None:
        self._check_open()
        return await self._read(lambda tx: ops.get_definition(tx, namespace, name, version))

    async def list_definitions(self) -> list[DefinitionRecord]:
        self._check_open()
        return await self._read(ops.list_definitions)

    # instances --------------------------------------------------------------------------

    async def create_instance(
        self, record: InstanceRecord, history: Sequence[JournalEntry] = ()
    ) -> tuple[InstanceRecord, bool]:
        params = _rows.instance_params(self.dialect, record)
        rows = [_rows.journal_params(self.dialect, entry) for entry in history]
        return await self._write(lambda tx: ops.create_instance(tx, params, record, rows))

    async def get_instance(self, instance_id: str) -> InstanceRecord | None:
        self._check_open()
        return await self._read(lambda tx: ops.get_instance(tx, instance_id))

    async def list_instances(self, query: InstanceQuery | None = None) -> list[InstanceRecord]:
        self._check_open()
        chosen = query or InstanceQuery()
        return await self._read(lambda tx: ops.list_instances(tx, chosen))

    async def update_instance(self, instance_id: str, **changes: Any) -> None:
        changes.setdefault("updated_at", datetime.now(UTC))
        encoded = _rows.instance_changes(self.dialect, changes)
        await self._write(lambda tx: ops.update_instance(tx, instance_id, encoded))

    async def instance_stats(
        self, since: datetime, *, errors: int = 10, sample: int = 10_000
    ) -> InstanceStats:
        self._check_open()
        moment = utc(since)
        return await self._read(lambda tx: stats_ops.instance_stats(tx, moment, errors, sample))

    # journal ----------------------------------------------------------------------------

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        self._check_open()
        rows = [_rows.journal_params(self.dialect, entry) for entry in entries]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submit(Write(future, journal_rows=rows))
        await future

    async def read_journal(
        self, instance_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        self._check_open()
        return await self._read(lambda tx: ops.read_journal(tx, instance_id, after_seq, limit))

    # leases and control -------------------------------------------------------------------

    async def claim(
        self, worker: str, limit: int, lease_seconds: float, dead_owners: Sequence[str] = (),
        *, alone: bool | None = None,
    ) -> list[InstanceRecord]:
        if limit <= 0:
            return []
        now = datetime.now(UTC)
        at, until = self._time(now), self._time(now + timedelta(seconds=lease_seconds))
        dead = list(dead_owners)
        return await self._write(
            lambda tx: ops.claim(tx, worker, limit, at, until, dead, alone)
        )

    async def suspects_waiting(self, worker: str, dead_owners: Sequence[str] = ()) -> bool:
        self._check_open()
        at, dead = self._time(datetime.now(UTC)), list(dead_owners)
        return await self._read(lambda tx: ops.suspects_waiting(tx, worker, at, dead))

    async def renew(self, worker: str, lease_seconds: float) -> list[InstanceRecord]:
        until = self._time(datetime.now(UTC) + timedelta(seconds=lease_seconds))
        return await self._write(lambda tx: ops.renew(tx, worker, until))

    async def release(
        self,
        worker: str,
        instance_id: str,
        *,
        history: Sequence[JournalEntry] = (),
        wake_if_mailbox: bool = False,
        listened: bool = True,
        **changes: Any,
    ) -> None:
        now = datetime.now(UTC)
        released = {"owner": None, "lease_expires_at": None, "updated_at": now}
        encoded = _rows.instance_changes(self.dialect, released | changes)
        rows = [_rows.journal_params(self.dialect, entry) for entry in history]
        wake = self._time(now) if wake_if_mailbox else None
        await self._write(lambda tx: ops.release(tx, worker, instance_id, encoded, rows, wake,
                                                 listened))

    async def owners(self) -> list[str]:
        self._check_open()
        return await self._read(ops.owners)

    async def count_active(self, now: datetime) -> ActiveCounts:
        self._check_open()
        moment = self._time(now)
        return await self._read(lambda tx: ops.count_active(tx, moment))

    async def request(
        self, instance_id: str, command: str, *, by: str | None = None
    ) -> InstanceRecord | None:
        if command not in COMMANDS:
            raise ValueError(
                f"unknown control request {command!r}: suspend, resume, cancel or retry"
            )
        return await self._write(lambda tx: ops.request(tx, instance_id, command, by))

    async def purge(self, ended_before: datetime) -> int:
        before = self._time(ended_before)

        async def purge(tx: Tx) -> int:
            ids = await ops.purge(tx, before)
            await event_ops.purge(tx, ids, before)
            return len(ids)

        return await self._write(purge)

    async def purge_instances(self, instance_ids: Sequence[str]) -> list[str]:
        if not instance_ids:
            return []
        ids = list(dict.fromkeys(instance_ids))

        async def purge(tx: Tx) -> list[str]:
            gone = await ops.purge_instances(tx, ids)
            await event_ops.purge_listeners(tx, gone)
            return gone

        return await self._write(purge)

    # events -----------------------------------------------------------------------------

    async def put_events(
        self, events: Sequence[Mapping[str, Any]], origin: str | None = None
    ) -> list[EventRecord | None]:
        now = datetime.now(UTC)
        records: list[EventRecord | None] = []
        seen: set[tuple[str, str]] = set()
        for event in events:
            identity = (event["source"], event["id"])
            # The first of the batch wins, as against events stored before.
            records.append(
                None if identity in seen
                else _rows.event_record(_rows.event_key(), event, origin, now)
            )
            seen.add(identity)
        rows = [_rows.event_params(self.dialect, r) for r in records if r is not None]
        if not rows:
            return records
        inserted = await self._write(lambda tx: event_ops.put_events(tx, rows))
        return [r if r is not None and r.key in inserted else None for r in records]

    async def list_events(
        self, *, type: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[EventRecord]:
        self._check_open()
        after = None if since is None else self._time(since)
        return await self._read(lambda tx: event_ops.list_events(tx, type, after, limit))

    async def undispatched(self, limit: int) -> list[EventRecord]:
        self._check_open()
        return await self._read(lambda tx: event_ops.undispatched(tx, limit))

    async def subscriptions_for(
        self, types: Sequence[str], values: Mapping[str, Collection[str]] | None = None
    ) -> list[SubscriptionRecord]:
        self._check_open()
        wanted = list(types)
        given = None if values is None else {k: sorted(v) for k, v in values.items()}
        return await self._read(lambda tx: event_ops.subscriptions_for(tx, wanted, given))

    async def correlation_sources(self, types: Sequence[str]) -> list[str]:
        self._check_open()
        wanted = list(types)
        return await self._read(lambda tx: event_ops.correlation_sources(tx, wanted))

    async def dispatch(
        self,
        event_keys: Sequence[str],
        deliveries: Sequence[Delivery],
        states: Mapping[tuple[str, str], dict[str, Any] | None] = {},
        *,
        deadline: datetime | None = None,
    ) -> None:
        if not (event_keys or deliveries or states):
            return
        keys = list(dict.fromkeys(event_keys))
        rows = [_rows.delivery_params(self.dialect, delivery) for delivery in deliveries]
        state_rows = [
            (_rows.encode(self.dialect, "json", state), instance_id, position)
            for (instance_id, position), state in states.items()
        ]
        now = self._time(datetime.now(UTC))
        until = None if deadline is None else utc(deadline)  # naive: refused here
        await self._write(lambda tx: event_ops.dispatch(tx, keys, rows, state_rows, now, until))

    async def subscribe(self, record: SubscriptionRecord) -> None:
        if not record.types:
            raise ValueError(
                f"subscription {record.instance_id} at {record.position} accepts no event type"
            )
        rows = _rows.subscription_params(self.dialect, record)
        keep = record.state is None
        await self._write(
            lambda tx: event_ops.subscribe(tx, record.instance_id, record.position, rows, keep)
        )

    async def unsubscribe(
        self, instance_id: str, position: str, consumed: Sequence[str] = ()
    ) -> None:
        keys, now = list(consumed), self._time(datetime.now(UTC))
        await self._write(lambda tx: event_ops.unsubscribe(tx, instance_id, position, keys, now))

    async def get_subscriptions(self, instance_id: str) -> list[SubscriptionRecord]:
        self._check_open()
        return await self._read(lambda tx: event_ops.get_subscriptions(tx, instance_id))

    async def mailbox(self, instance_id: str, position: str) -> list[Delivery]:
        self._check_open()
        return await self._read(lambda tx: event_ops.mailbox(tx, instance_id, position))

    async def consume(self, instance_id: str, position: str, event_keys: Sequence[str]) -> None:
        if not event_keys:
            return
        keys, now = list(event_keys), self._time(datetime.now(UTC))
        await self._write(lambda tx: event_ops.consume(tx, instance_id, position, keys, now))

    async def watch(self, on_change: Callable[[str], None]) -> bool:
        return False  # a backend that can tell other processes overrides this

    # named leases ---------------------------------------------------------------------------

    async def acquire_lease(self, name: str, owner: str, seconds: float) -> bool:
        now = datetime.now(UTC)
        at, until = self._time(now), self._time(now + timedelta(seconds=seconds))
        return await self._write(lambda tx: event_ops.acquire_lease(tx, name, owner, at, until))

    async def release_lease(self, name: str, owner: str) -> None:
        await self._write(lambda tx: event_ops.release_lease(tx, name, owner))

    def _time(self, value: datetime) -> Any:
        return self.dialect.encode_time(value)

    # schedules (podium.scheduling) --------------------------------------------------------

    async def put_schedule(self, record: ScheduleRecord) -> None:
        params = _rows.schedule_params(self.dialect, record)
        await self._write(lambda tx: schedule_ops.put_schedule(tx, params))

    async def delete_schedule(self, namespace: str, name: str) -> None:
        await self._write(lambda tx: schedule_ops.delete_schedule(tx, namespace, name))

    async def list_schedules(self) -> list[ScheduleRecord]:
        self._check_open()
        return await self._read(schedule_ops.list_schedules)

    async def claim_schedules(
        self, owner: str, lease_seconds: float, now: datetime
    ) -> list[ScheduleRecord]:
        at, until = self._time(now), self._time(now + timedelta(seconds=lease_seconds))
        return await self._write(lambda tx: schedule_ops.claim_schedules(tx, owner, at, until))

    async def fired(
        self, namespace: str, name: str, owner: str, *, due: datetime,
        next_due: datetime | None, instance_id: str | None,
    ) -> bool:
        at, then = self._time(due), None if next_due is None else self._time(next_due)
        now = self._time(datetime.now(UTC))
        return await self._write(lambda tx: schedule_ops.fired(
            tx, namespace, name, owner, at, then, instance_id, now))

    async def arm_schedule(
        self, namespace: str, name: str, *, last_instance: str, next_due: datetime
    ) -> bool:
        then, now = self._time(next_due), self._time(datetime.now(UTC))
        return await self._write(lambda tx: schedule_ops.arm_schedule(
            tx, namespace, name, last_instance, then, now))
