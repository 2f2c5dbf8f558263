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
    statements.extend(
        f"CREATE INDEX IF NOT EXISTS {index.name} ON {table.name} ({', '.join(index.columns)})"
        for index in table.indexes
    )
    return statements
