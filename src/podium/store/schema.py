"""The tables, defined once for both databases.

Column kinds (``text``, ``integer``, ``json``, ``time``) are mapped to SQL types
by the dialect; the row codecs in ``_rows.py`` read the same kinds, so a column
added here is stored and loaded the same way everywhere.

These are the tables as of the newest migration. A migration that alters one of
them edits it here too, and the earlier migration that created it then spells out
its original columns, so that it keeps creating exactly what it created.
"""

from __future__ import annotations

from dataclasses import dataclass

from podium.store._dialect import Dialect


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | integer | json | time
    nullable: bool = True
    default: str | None = None  # an SQL literal; needed to add a NOT NULL column later


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[str, ...] = ()  # columns unique on their own; NULLs never collide
    indexes: tuple[Index, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def kinds(self) -> dict[str, str]:
        return {column.name: column.kind for column in self.columns}


def _text(name: str, nullable: bool = True) -> Column:
    return Column(name, "text", nullable)


def _time(name: str, nullable: bool = True) -> Column:
    return Column(name, "time", nullable)


def _json(name: str, nullable: bool = True) -> Column:
    return Column(name, "json", nullable)


MIGRATIONS = Table(
    "podium_migrations",
    (Column("number", "integer", False), _text("name", False), _time("applied_at", False)),
    primary_key=("number",),
)

DEFINITIONS = Table(
    "podium_definitions",
    (
        _text("namespace", False),
        _text("name", False),
        _text("version", False),
        _json("document", False),
        _text("source", False),
        _time("created_at", False),
        # The external resources the document names by relative path or file URI,
        # read when it was deployed: {reference: sha256 digest in podium_resources}.
        _json("resources"),
    ),
    primary_key=("namespace", "name", "version"),
)

# Resource texts by content (sha256 hex), shared by every definition that names them.
RESOURCES = Table(
    "podium_resources",
    (_text("digest", False), _text("content", False), _time("created_at", False)),
    primary_key=("digest",),
)

# Column order follows InstanceRecord so rows map onto it by position.
INSTANCES = Table(
    "podium_instances",
    (
        _text("id", False),
        _text("namespace", False),
        _text("name", False),
        _text("version", False),
        _text("status", False),
        _json("input"),
        _time("created_at", False),
        _time("updated_at", False),
        _text("key"),
        _json("output"),
        _json("error"),
        _time("started_at"),
        _time("ended_at"),
        _text("owner"),
        _time("lease_expires_at"),
        _time("wake_at"),
        _text("request"),
        _text("parent_id"),
        _text("parent_position"),
        # Times a worker stopped while running the instance (crashed, was killed,
        # lost its lease) without the instance making progress in between.
        Column("crashes", "integer", False, default="0"),
        # The journal length when the instance was last claimed: a takeover that
        # finds it unchanged knows the previous run made no progress.
        Column("claimed_seq", "integer"),
        # 1 when the last claim took it to run alone (a suspect, podium.worker):
        # only a crash of such a run is the instance's own.
        Column("claimed_alone", "integer", False, default="0"),
        # The W3C traceparent of whoever started it: every run's span is its child.
        _text("trace_parent"),
    ),
    primary_key=("id",),
    unique=("key",),
    indexes=(
        # claim: pending/running by status, waiting ones by due time
        Index("podium_instances_status_wake", ("status", "wake_at")),
        # claim and renew: leases by owner and expiry
        Index("podium_instances_owner_lease", ("owner", "lease_expires_at")),
        # list_instances is newest first
        Index("podium_instances_created", ("created_at",)),
        Index("podium_instances_ended", ("ended_at",)),
        Index("podium_instances_parent", ("parent_id",)),
        # the API's filters: one workflow's instances newest first (its dead letters:
        # status and workflow), and what changed since a time (live views poll it)
        Index("podium_instances_workflow_created", ("namespace", "name", "created_at")),
        Index("podium_instances_updated", ("updated_at",)),
    ),
)

# The primary key (instance_id, seq) is also the index for reading one instance's
# journal in order; a separate index on instance_id would only slow appends.
# No foreign key to instances: a batch inserts its appends first (see _batch), so
# an instance's first entries may precede its own insert in the same transaction.
JOURNAL = Table(
    "podium_journal",
    (
        _text("instance_id", False),
        Column("seq", "integer", False),
        _text("position", False),
        _text("kind", False),
        _time("at", False),
        _json("data"),
        _text("worker"),
    ),
    primary_key=("instance_id", "seq"),
)


# Events and schedules (README "Events", ARCHITECTURE "Events and schedules").

# The inbox: every CloudEvent that entered the store (published, ingested from
# NATS or HTTP, emitted by an instance), once per source+id (CloudEvents' own
# uniqueness rule). ``key`` orders arrivals (a ULID taken when it was stored);
# ``dispatched_at`` is set once the dispatcher matched it against subscriptions.
EVENTS = Table(
    "podium_events",
    (
        _text("key", False),
        _text("source", False),
        _text("id", False),
        _text("type", False),
        _text("subject"),
        _time("received_at", False),
        _json("event", False),  # the whole event, CloudEvents JSON (structured) form
        _text("origin"),  # who stored it: cli, nats, http, instance:<id>, api
        _time("dispatched_at"),
    ),
    primary_key=("key",),
    indexes=(
        Index("podium_events_source_id", ("source", "id"), unique=True),
        # the dispatcher takes undispatched events in arrival order
        Index("podium_events_dispatched", ("dispatched_at", "key")),
        Index("podium_events_type", ("type", "received_at")),
        Index("podium_events_received", ("received_at",)),
    ),
)

# What a waiting listener (an instance's `listen` at a position, or a
# definition's `schedule.on`, owner "schedule:<namespace>/<name>") wants: one row
# per event type it may accept ("*" when a filter does not name one literally),
# so that an arriving event is matched against the rows of its type only.
SUBSCRIPTIONS = Table(
    "podium_subscriptions",
    (
        _text("instance_id", False),
        _text("position", False),
        _text("event_type", False),
        _json("spec", False),  # strategy, filters (expectations evaluated), read mode
        _json("state"),  # correlation values bound so far (the dispatcher's)
        _time("created_at", False),
        _time("deadline"),  # when the listen times out, if it does
        # A listener expecting one correlation value (an auction its bids): the
        # expression extracting it from an event, and the value (canonical JSON), so
        # that an event is matched only against the listeners expecting its value.
        _text("match_from"),
        _text("match_value"),
    ),
    primary_key=("instance_id", "position", "event_type"),
    indexes=(Index("podium_subscriptions_match", ("event_type", "match_from", "match_value")),),
)

# The mailbox of each subscription: events the dispatcher matched for it, in
# arrival order (event_key); the instance marks them consumed once it has
# journaled them (or decided to skip them).
DELIVERIES = Table(
    "podium_deliveries",
    (
        _text("instance_id", False),
        _text("position", False),
        _text("event_key", False),
        _json("event", False),
        _json("matched"),  # {"filters": [i...], "until": [i...], "keys": {name: value}}
        _time("delivered_at", False),
        _time("consumed_at"),
    ),
    primary_key=("instance_id", "position", "event_key"),
    indexes=(Index("podium_deliveries_event", ("event_key",)),),
)

# One row per scheduled workflow (namespace/name): the version that owns the
# schedule (the highest deployed), when it fires next, and who fires it.
SCHEDULES = Table(
    "podium_schedules",
    (
        _text("namespace", False),
        _text("name", False),
        _text("version", False),
        _text("kind", False),  # every | cron | after | on
        _json("spec", False),  # the document's `schedule` block
        _time("next_due"),  # NULL: fired by events (on), or waiting for a run to end (after)
        _text("owner"),
        _time("lease_expires_at"),
        _time("last_due"),
        _text("last_instance"),
        _time("updated_at", False),
    ),
    primary_key=("namespace", "name"),
    indexes=(Index("podium_schedules_due", ("next_due",)),),
)

# Named leases for work one process at a time does for everybody (the event
# dispatcher): whoever holds an unexpired lease does it.
LEASES = Table(
    "podium_leases",
    (_text("name", False), _text("owner", False), _time("expires_at", False)),
    primary_key=("name",),
)


def column_definition(dialect: Dialect, column: Column) -> str:
    """``name TYPE [NOT NULL] [DEFAULT x]``, for CREATE TABLE and ADD COLUMN."""
    text = f"{column.name} {dialect.types[column.kind]}"
    if not column.nullable:
        text += " NOT NULL"
    if column.default is not None:
        text += f" DEFAULT {column.default}"
    return text


def add_column_statement(table: Table, column_name: str, dialect: Dialect) -> str:
    column = next(c for c in table.columns if c.name == column_name)
    return f"ALTER TABLE {table.name} ADD COLUMN {column_definition(dialect, column)}"


def create_statements(dialect: Dialect, table: Table) -> list[str]:
    """``CREATE ... IF NOT EXISTS`` statements for a table and its indexes."""
    lines = [column_definition(dialect, c) for c in table.columns]
    lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    lines.extend(f"UNIQUE ({name})" for name in table.unique)
    body = ",\n  ".join(lines)
    statements = [f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {body}\n)"]
    statements.extend(create_index_statement(table, index) for index in table.indexes)
    return statements


def create_index_statement(table: Table, index: Index) -> str:
    return (f"CREATE {'UNIQUE ' if index.unique else ''}INDEX IF NOT EXISTS {index.name}"
            f" ON {table.name} ({', '.join(index.columns)})")
