"""The store: where definitions, instances, their journals and leases live.

One protocol, two implementations (``sqlite.py``, the embedded default, and
``postgres.py``, for scale-out), chosen by URL (``sqlite:///path/podium.db``,
``postgresql://user@host:5432/db``). Tables are defined once; each dialect
only supplies small hooks (types, placeholders, locking).

Writes are group-committed: appends and instance updates from many concurrent
instances are batched into one transaction, and each call returns only once
its batch is durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# Instance status phases (dsl.md "Status Phases").
PENDING, RUNNING, WAITING, SUSPENDED = "pending", "running", "waiting", "suspended"
COMPLETED, FAULTED, CANCELLED = "completed", "faulted", "cancelled"
ACTIVE = (PENDING, RUNNING, WAITING, SUSPENDED)
ENDED = (COMPLETED, FAULTED, CANCELLED)

# Control requests a process makes of the worker that owns an instance.
SUSPEND, RESUME, CANCEL = "suspend", "resume", "cancel"


class StoreError(Exception):
    """A store could not be opened or used (bad URL, unreachable server, ...).

    ``transient``: trying again later may work (a server restarting, a lock held
    by another process, a full disk); otherwise the store is unusable as it is (a
    corrupt file, missing tables) and waiting will not help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class DefinitionConflict(StoreError):
    """A definition with the same namespace/name/version but other content exists."""


class LeaseLost(StoreError):
    """``release`` by a worker that no longer owns the instance (another worker took it
    after the lease expired); nothing was changed."""


@dataclass(frozen=True)
class DefinitionRecord:
    """A deployed workflow definition, pinned by namespace/name/version."""

    namespace: str
    name: str
    version: str
    document: dict[str, Any]  # the parsed definition (plain JSON data)
    source: str  # the text as deployed (YAML or JSON), for display
    created_at: datetime
    # Resources named by relative path or file URI, read at deploy: {reference: digest}.
    resources: dict[str, str] | None = None


@dataclass
class InstanceRecord:
    """One workflow instance and where it stands."""

    id: str
    namespace: str
    name: str
    version: str
    status: str
    input: Any
    created_at: datetime
    updated_at: datetime
    key: str | None = None  # caller-chosen idempotency key, unique when set
    output: Any = None
    error: dict[str, Any] | None = None  # RFC 7807 problem details
    started_at: datetime | None = None
    ended_at: datetime | None = None
    owner: str | None = None  # the worker holding the lease
    lease_expires_at: datetime | None = None
    wake_at: datetime | None = None  # waiting: when its earliest timer is due
    request: str | None = None  # a pending control request: suspend, resume, cancel
    parent_id: str | None = None  # for subflows: the instance that started this one
    parent_position: str | None = None
    crashes: int = 0  # worker stops without progress (see the quarantine in podium.worker)
    claimed_seq: int | None = None  # journal length at the last claim


@dataclass(frozen=True)
class JournalEntry:
    """One line of an instance's history.

    ``position`` is the deterministic position of a task execution (its JSON
    pointer plus iteration/attempt marks); ``kind`` says what happened
    (``task.started``, ``task.completed``, ``task.faulted``, ``task.retried``,
    ``timer``, ``workflow.started`` ...); ``data`` holds what replay needs
    (an output, an error, a due time) — never a secret.
    """

    instance_id: str
    position: str
    kind: str
    at: datetime
    data: Any = None
    worker: str | None = None
    seq: int | None = field(default=None, compare=False)  # assigned by the store


class Store(Protocol):
    """What the engine, workers and commands need from a store."""

    url: str

    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent, safe concurrently)."""

    async def close(self) -> None: ...

    # definitions ------------------------------------------------------------------------

    async def put_definition(self, record: DefinitionRecord) -> bool:
        """Store a definition; False if the identical one exists; ``DefinitionConflict``
        if the same namespace/name/version exists with another document."""

    async def get_definition(
        self, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord | None:
        """One version, or the highest semantic version when ``version`` is None
        or ``"latest"``."""

    async def list_definitions(self) -> list[DefinitionRecord]: ...

    # instances --------------------------------------------------------------------------

    async def create_instance(self, record: InstanceRecord) -> tuple[InstanceRecord, bool]:
        """Insert; when ``record.key`` is already used, return that instance and False."""

    async def get_instance(self, instance_id: str) -> InstanceRecord | None: ...

    async def list_instances(
        self, status: str | None = None, limit: int = 100
    ) -> list[InstanceRecord]:
        """Newest first."""

    async def update_instance(self, instance_id: str, **changes: Any) -> None:
        """Set fields of an instance (group-committed; durable on return)."""

    # journal ----------------------------------------------------------------------------

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Append to journals (group-committed; durable on return)."""

    async def read_journal(self, instance_id: str) -> list[JournalEntry]:
        """An instance's journal in append order."""

    # leases and control -------------------------------------------------------------------

    async def claim(
        self, worker: str, limit: int, lease_seconds: float, dead_owners: Sequence[str] = ()
    ) -> list[InstanceRecord]:
        """Take up to ``limit`` instances to run, setting ``owner`` and the lease:
        pending ones; active ones whose lease expired or whose owner is in
        ``dead_owners`` (a worker restarted under a stable id names its previous
        self there once); waiting ones whose ``wake_at`` is due. Instances the
        caller holds with a live lease are never returned again, and suspended
        ones never at all."""

    async def renew(self, worker: str, lease_seconds: float) -> list[InstanceRecord]:
        """Extend the leases ``worker`` holds; return those instances (with any
        pending control ``request``)."""

    async def release(self, worker: str, instance_id: str, **changes: Any) -> None:
        """Give up an instance (optionally updating it in the same commit)."""

    async def owners(self) -> list[str]:
        """The workers currently holding leases."""

    async def request(self, instance_id: str, command: str) -> InstanceRecord | None:
        """Ask for suspend/resume/cancel. An instance nobody runs is changed at
        once (suspended → pending on resume; cancelled at once when not owned);
        an owned one gets ``request`` set for its worker to act on."""

    async def purge(self, ended_before: datetime) -> int:
        """Delete ended instances (and their journals) that ended before a time."""
