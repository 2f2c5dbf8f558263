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

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

# Instance status phases (dsl.md "Status Phases").
PENDING, RUNNING, WAITING, SUSPENDED = "pending", "running", "waiting", "suspended"
COMPLETED, FAULTED, CANCELLED = "completed", "faulted", "cancelled"
ACTIVE = (PENDING, RUNNING, WAITING, SUSPENDED)
ENDED = (COMPLETED, FAULTED, CANCELLED)

# Control requests a process makes of the worker that owns an instance; RETRY
# puts a faulted instance back to pending.
SUSPEND, RESUME, CANCEL, RETRY = "suspend", "resume", "cancel", "retry"
COMMANDS = (SUSPEND, RESUME, CANCEL, RETRY)

# History lines (journal kinds at position "/") for what happened to an instance
# as a whole: operator actions, and the worker carrying out a requested one
# (``instance.<command>-requested`` lines record the requests themselves).
INSTANCE_SUSPENDED, RESUMED, INSTANCE_CANCELLED, RETRIED, QUARANTINED = (
    "instance.suspended", "instance.resumed", "instance.cancelled", "instance.retried",
    "instance.quarantined",
)


# The ``instance_id`` of a ``schedule.on`` subscription starts with this (then
# ``<namespace>/<name>``): no instance row stands behind it.
SCHEDULE_SUBSCRIBER = "schedule:"

# What ``Store.watch`` reports: events were stored; listeners were made due.
EVENTS_CHANNEL, DUE_CHANNEL = "events", "due"


class StoreError(Exception):
    """A store could not be opened or used (bad URL, unreachable server, ...).

    ``transient``: trying again later may work (a server restarting, a lock held
    by another process, a full disk); otherwise the store is unusable as it is (a
    corrupt file, missing tables) and waiting will not help."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class PayloadTooLarge(ValueError):
    """A value larger than ``podium.limits.MAX_PAYLOAD_BYTES`` as JSON: refused by the
    call that passed it, before anything is written (like a value that is not JSON)."""


class DefinitionConflict(StoreError):
    """A definition with the same namespace/name/version but other content exists."""


class LeaseLost(StoreError):
    """``release`` by a worker that no longer owns the instance (another worker took it
    after the lease expired), or ``dispatch`` after the dispatcher's lease expired;
    nothing was changed."""


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
    claimed_alone: int = 0  # 1: the last claim took it to run alone (a suspect)
    trace_parent: str | None = None  # W3C traceparent its runs continue (podium.tracecontext)


class Serialized(ABC):
    """A value for a JSON column that knows its own JSON text: the store writes
    ``to_json()`` instead of serializing the value (the journal uses it to check
    the text it writes for secrets and markers in one pass)."""

    __slots__ = ()

    @abstractmethod
    def to_json(self) -> str: ...


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


@dataclass(frozen=True)
class EventRecord:
    """One CloudEvent in the inbox. ``key`` orders arrivals (a ULID taken when it
    was stored); ``consumers`` (filled by ``list_events`` only) are the instances
    it was delivered to, as ``instance_id`` strings."""

    key: str
    source: str
    id: str
    type: str
    subject: str | None
    received_at: datetime
    event: dict[str, Any]  # structured (JSON) form
    origin: str | None = None
    dispatched_at: datetime | None = None
    consumers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscriptionRecord:
    """A waiting listener: an instance's ``listen`` at ``position`` (or a schedule's
    ``on``, ``instance_id`` = ``schedule:<namespace>/<name>``). ``types`` are the
    event types it may accept (``"*"``: any); ``spec`` is what the matcher needs
    (``podium.events.matching``); ``state`` the correlation values bound so far."""

    instance_id: str
    position: str
    types: tuple[str, ...]
    spec: dict[str, Any]
    state: dict[str, Any] | None
    created_at: datetime
    deadline: datetime | None = None
    # (from, expected value as canonical JSON) when every filter expects the same
    # correlation value: the dispatcher then reads it only for events carrying it.
    correlation: tuple[str, str] | None = None


@dataclass(frozen=True)
class Delivery:
    """An event matched for a subscription, waiting in its mailbox until the
    instance consumes it. ``matched``: ``{"filters": [...], "until": [...],
    "keys": {...}}`` (which filters it satisfied, correlation values)."""

    instance_id: str
    position: str
    event_key: str
    event: dict[str, Any]
    matched: dict[str, Any]
    delivered_at: datetime
    consumed_at: datetime | None = None


@dataclass
class ScheduleRecord:
    """The schedule of a deployed workflow (one per namespace/name: the highest
    version that declares one)."""

    namespace: str
    name: str
    version: str
    kind: str  # every | cron | after | on
    spec: dict[str, Any]
    next_due: datetime | None
    owner: str | None
    lease_expires_at: datetime | None
    last_due: datetime | None
    last_instance: str | None
    updated_at: datetime


@dataclass(frozen=True)
class ActiveCounts:
    """How many instances are in each active status (every status of ``ACTIVE``
    is a key), and how many of them an owner holds by a lease that ran out (its
    worker died or stalls; another worker takes them over at its next claim)."""

    statuses: dict[str, int]
    expired_leases: int


@dataclass(frozen=True)
class InstanceQuery:
    """Which instances ``Store.list_instances`` returns, newest first (by creation
    time, then id). Every filter set must hold; times are inclusive bounds.

    ``after`` is a cursor: the ``InstanceRecord`` last shown (its ``created_at``
    and ``id``), so that the next page starts just past it, whatever was created
    meanwhile (``page_cursor``/``parse_cursor`` turn it into text for an API)."""

    status: str | None = None
    namespace: str | None = None
    name: str | None = None
    version: str | None = None
    key: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ended_after: datetime | None = None
    ended_before: datetime | None = None
    updated_after: datetime | None = None  # changed since (live views poll with it)
    search: str | None = None  # a part of the id or of the key, case-insensitive
    parent: str | None = None  # subflows: the instance that started them
    after: tuple[datetime, str] | None = None
    limit: int = 100


@dataclass(frozen=True)
class WorkflowCounts:
    """How the instances of one workflow (all versions) stand: ended since a time
    by outcome, and active now by status."""

    namespace: str
    name: str
    completed: int = 0
    faulted: int = 0
    cancelled: int = 0
    pending: int = 0
    running: int = 0
    waiting: int = 0
    suspended: int = 0


@dataclass(frozen=True)
class EndedSample:
    """One instance that ended (completed or faulted) in the window, with how long
    it ran (``started_at`` to ``ended_at``), for percentiles and time buckets."""

    namespace: str
    name: str
    status: str
    ended_at: datetime
    seconds: float


@dataclass(frozen=True)
class ErrorCount:
    """Instances faulted since a time with the same error type and title."""

    type: str | None
    title: str | None
    count: int
    last_at: datetime


@dataclass(frozen=True)
class InstanceStats:
    """What ``Store.instance_stats`` counts. ``workflows`` and ``errors`` are exact;
    ``ended`` holds the latest ended instances of the window, at most the sample
    asked for (``sampled_all``: none was left out)."""

    since: datetime
    workflows: tuple[WorkflowCounts, ...]
    errors: tuple[ErrorCount, ...]
    ended: tuple[EndedSample, ...]
    sampled_all: bool


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# "<microseconds since 1970>~<id>": any text of this shape is a place in a
# listing, so an API can describe its cursors exactly (a pattern) and accept
# every one that matches.
CURSOR_PATTERN = r"^[0-9]{1,17}~[^\u0000]+$"


def page_cursor(record: InstanceRecord) -> str:
    """The cursor that continues a listing past ``record`` (``InstanceQuery.after``)."""
    return f"{(record.created_at - _EPOCH) // _MICROSECOND}~{record.id}"


def parse_cursor(text: str) -> tuple[datetime, str]:
    """``page_cursor``'s text back; ``ValueError`` when it is not one."""
    moment, _, instance_id = text.partition("~")
    if not instance_id or not moment.isascii() or not moment.isdigit() or len(moment) > 17:
        raise ValueError("not a cursor of this listing")
    return _EPOCH + int(moment) * _MICROSECOND, instance_id


def quarantined(record: InstanceRecord) -> bool:
    """Ended by quarantine: every other end (completed, faulted on its own,
    cancelled) resets the crash counter when it is recorded."""
    return record.status == FAULTED and record.crashes > 0


class Store(Protocol):
    """What the engine, workers and commands need from a store."""

    url: str

    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent, safe concurrently)."""

    async def close(self) -> None: ...

    # definitions ------------------------------------------------------------------------

    async def put_definition(self, record: DefinitionRecord) -> bool:
        """Store a definition; False if the identical one exists; ``DefinitionConflict``
        if the same namespace/name/version exists with another document, or with
        other resource digests."""

    async def get_definition(
        self, namespace: str, name: str, version: str | None = None
    ) -> DefinitionRecord | None:
        """One version, or the highest semantic version when ``version`` is None
        or ``"latest"``."""

    async def list_definitions(self) -> list[DefinitionRecord]: ...

    async def put_resources(self, contents: Mapping[str, str]) -> None:
        """Store resource texts by their sha256 digest (``{digest: text}``), before
        the definition naming them; a digest already stored is kept."""

    async def get_resources(self, digests: Sequence[str]) -> dict[str, str]:
        """The stored texts of these digests (``{digest: text}``; unknown ones absent)."""

    # instances --------------------------------------------------------------------------

    async def create_instance(
        self, record: InstanceRecord, history: Sequence[JournalEntry] = ()
    ) -> tuple[InstanceRecord, bool]:
        """Insert, with ``history`` as the start of its journal in the same
        transaction (a re-run's copied prefix); when ``record.key`` is already used,
        return that instance and False (and write nothing)."""

    async def get_instance(self, instance_id: str) -> InstanceRecord | None: ...

    async def list_instances(self, query: InstanceQuery | None = None) -> list[InstanceRecord]:
        """The instances ``query`` selects (all when None), newest first, at most
        ``query.limit``."""

    async def update_instance(self, instance_id: str, **changes: Any) -> None:
        """Set fields of an instance (group-committed; durable on return)."""

    async def instance_stats(
        self, since: datetime, *, errors: int = 10, sample: int = 10_000
    ) -> InstanceStats:
        """Per workflow: instances ended since ``since`` by outcome and active ones
        by status; the ``errors`` most frequent error types of the instances that
        faulted since then; the ``sample`` latest completed or faulted ones with
        their run time (``InstanceStats``)."""

    # journal ----------------------------------------------------------------------------

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Append to journals (group-committed; durable on return)."""

    async def read_journal(
        self, instance_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """An instance's journal in append order: the entries after ``after_seq``
        (all when None), at most ``limit`` of them (all when None)."""

    # leases and control -------------------------------------------------------------------

    async def claim(
        self, worker: str, limit: int, lease_seconds: float, dead_owners: Sequence[str] = (),
        *, alone: bool | None = None,
    ) -> list[InstanceRecord]:
        """Take up to ``limit`` instances to run, setting ``owner`` and the lease:
        pending ones; active ones whose lease expired or whose owner is in
        ``dead_owners`` (a worker restarted under a stable id names its previous
        self there once); waiting ones whose ``wake_at`` is due. Instances the
        caller holds with a live lease are never returned again, and suspended
        ones never at all.

        ``alone``: a *suspect* is a takeover (an instance another owner, or the
        caller's previous self, held when it stopped) that crashed before
        (``crashes`` at least 1); ``alone=False`` leaves suspects out, ``True``
        takes only them, for the caller to run each alone (``claimed_alone``).
        Only a crash of a run alone counts beyond the first: a takeover after a
        run in company leaves ``crashes`` at least 1 but counts no further.
        ``None`` takes both and counts every takeover without progress.

        Each claim records the journal's length (``claimed_seq``). Taking over an
        instance another owner (or the caller's previous self) still held counts a
        crash: ``crashes + 1`` when its journal has not grown since the previous
        claim, else 1 (see the quarantine in ``podium.worker``)."""

    async def suspects_waiting(self, worker: str, dead_owners: Sequence[str] = ()) -> bool:
        """Whether ``claim(..., alone=True)`` would find an instance."""

    async def renew(self, worker: str, lease_seconds: float) -> list[InstanceRecord]:
        """Extend the leases ``worker`` holds; return those instances (with any
        pending control ``request``)."""

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
        """Give up an instance, optionally updating it and appending ``history``
        lines in the same commit; ``LeaseLost`` (and nothing written) when
        ``worker`` no longer holds it. An instance that ends listens no more: its
        subscriptions (and deliveries it never took) are removed, unless the
        caller knows it never ``listened`` in this run (nor in an earlier one
        that replay passed through: a listen replayed starts again).

        ``wake_if_mailbox``: a listener parking (``status="waiting"``) is due at
        once (``wake_at`` now instead of the one given) if the instance has a
        delivery not yet consumed, including one committed while this waited for
        the instance's row: a delivery racing the park never goes unnoticed."""

    async def owners(self) -> list[str]:
        """The workers currently holding leases."""

    async def count_active(self, now: datetime) -> ActiveCounts:
        """Active instances by status, and those whose lease expired before ``now``
        (one query, for metrics gauges: ``podium.telemetry``)."""

    async def request(
        self, instance_id: str, command: str, *, by: str | None = None
    ) -> InstanceRecord | None:
        """Ask for suspend/resume/cancel/retry. An instance nobody runs is changed
        at once (suspended → pending on resume; cancelled at once when not owned);
        an owned one gets ``request`` set for its worker to act on. ``retry``
        puts a faulted instance (quarantined or faulted by its workflow) back to
        pending (crashes 0, journal kept; its history line says ``after``:
        ``quarantine`` or ``fault``) and does nothing to any other. Whatever it
        does is appended to the instance's history in the same transaction, naming
        ``by`` (who asked)."""

    async def purge(self, ended_before: datetime) -> int:
        """Delete ended instances (and their journals, subscriptions and mailboxes)
        that ended before a time, and inbox events received before it."""

    async def purge_instances(self, instance_ids: Sequence[str]) -> list[str]:
        """Delete these instances, those of them that have ended, with their journals,
        subscriptions and mailboxes, in one transaction; the ids deleted (one still
        active, or unknown, is left as it is). Instances they started (subflows)
        are instances of their own and stay."""

    # events (podium.events) ----------------------------------------------------------------

    async def put_events(
        self, events: Sequence[Mapping[str, Any]], origin: str | None = None
    ) -> list[EventRecord | None]:
        """Store CloudEvents (structured form, already validated) in the inbox, in
        one transaction, in the given order; for each, its record, or None when an
        event with the same source+id is stored already (kept as it was)."""

    async def list_events(
        self, *, type: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[EventRecord]:
        """Newest first, with ``consumers`` filled in; ``since``: received at or after."""

    async def undispatched(self, limit: int) -> list[EventRecord]:
        """Events not yet dispatched, oldest first."""

    async def subscriptions_for(
        self, types: Sequence[str], values: Mapping[str, Collection[str]] | None = None
    ) -> list[SubscriptionRecord]:
        """The subscriptions accepting any of these event types, or any type ("*");
        one record per subscription (instance_id, position), its ``types`` all of them.
        ``values``: of those with a ``correlation``, only the ones whose expected
        value is among ``values[from]`` (the values the events carry)."""

    async def correlation_sources(self, types: Sequence[str]) -> list[str]:
        """The distinct ``from`` expressions of the correlations of subscriptions to
        these types (or "*")."""

    async def dispatch(
        self,
        event_keys: Sequence[str],
        deliveries: Sequence[Delivery],
        states: Mapping[tuple[str, str], dict[str, Any] | None] = {},
        *,
        deadline: datetime | None = None,
    ) -> None:
        """One transaction: insert ``deliveries`` (one already there is kept), set
        the ``state`` of subscriptions (by instance_id, position), mark the events
        dispatched, and make every waiting instance that got a delivery due now (a
        parked one is claimed and consumes its mailbox). ``deadline``: the caller's
        dispatcher lease expiry; when it has passed as the transaction runs,
        nothing is written and ``LeaseLost`` is raised (another dispatcher may
        have taken over)."""

    async def subscribe(self, record: SubscriptionRecord) -> None:
        """Record a subscription (idempotent: the same instance and position again
        replaces its rows but keeps their ``state`` when the new one has none)."""

    async def unsubscribe(
        self, instance_id: str, position: str, consumed: Sequence[str] = ()
    ) -> None:
        """Remove a subscription, in one transaction with marking the deliveries
        ``consumed`` (event keys); consumed mailbox rows stay (the history of who
        consumed what), those never taken are dropped."""

    async def get_subscriptions(self, instance_id: str) -> list[SubscriptionRecord]:
        """An instance's subscriptions (what it waits for)."""

    async def mailbox(self, instance_id: str, position: str) -> list[Delivery]:
        """Deliveries to a subscription not yet consumed, in arrival order."""

    async def consume(self, instance_id: str, position: str, event_keys: Sequence[str]) -> None:
        """Mark deliveries consumed (the instance journaled or skipped them)."""

    async def watch(self, on_change: Callable[[str], None]) -> bool:
        """Call ``on_change(EVENTS_CHANNEL)`` when any process stores events and
        ``on_change(DUE_CHANNEL)`` when any makes listeners due (also once after
        the store reconnects, as something may have been missed), until the store
        closes. False when the store cannot tell (SQLite): the caller polls."""

    # named leases ---------------------------------------------------------------------------

    async def acquire_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds``: True if ``owner`` holds
        it now (it was free, expired, or already its own)."""

    async def release_lease(self, name: str, owner: str) -> None: ...

    # schedules (podium.scheduling) ----------------------------------------------------------

    async def put_schedule(self, record: ScheduleRecord) -> None:
        """Create or replace the schedule of namespace/name: version, kind, spec and
        next due time are replaced, the last fire kept, and the lease dropped (a
        worker still firing the replaced schedule finds its lease lost, so its
        ``fired`` cannot overwrite the new next due time). The record's ``owner``,
        ``lease_expires_at``, ``last_due`` and ``last_instance`` are used only when
        the row is new."""

    async def delete_schedule(self, namespace: str, name: str) -> None: ...

    async def list_schedules(self) -> list[ScheduleRecord]:
        """Every schedule, by namespace and name."""

    async def claim_schedules(
        self, owner: str, lease_seconds: float, now: datetime
    ) -> list[ScheduleRecord]:
        """Take the lease of every schedule due by ``now`` (next_due <= now) that
        nobody else holds; the caller fires each and calls ``fired``."""

    async def fired(
        self, namespace: str, name: str, owner: str, *, due: datetime,
        next_due: datetime | None, instance_id: str | None,
    ) -> bool:
        """Record a fire (``last_due``, ``last_instance``), set the next due time and
        release the lease; False (nothing written) if ``owner`` lost the lease."""

    async def arm_schedule(
        self, namespace: str, name: str, *, last_instance: str, next_due: datetime
    ) -> bool:
        """Set the next due time of a schedule waiting for its last instance to end
        (``after``): only while its ``next_due`` is unset and ``last_instance`` is
        still the one given, so that workers racing to arm it write it once."""
