"""The few things that differ between SQLite and PostgreSQL.

SQL is written once, with ``?`` placeholders; a dialect says how to spell column
types, how values travel (JSON as text or JSONB, timestamps as text or
``timestamptz``) and which locking clauses exist.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from podium import jsontext

# One encoder for every call: ``json.dumps`` with options builds a new one each time.
_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def dump_json(value: Any) -> str:
    """Serialize strictly, in the caller: a value that is not JSON fails its own call
    instead of the whole group-committed batch, and NaN/Infinity (which PostgreSQL
    refuses) fail on SQLite too.

    Written by orjson where that means the same (``podium.jsontext``), else by the
    strict encoder above."""
    return jsontext.dumps(value, _ENCODER.encode)


def utc(value: datetime) -> datetime:
    """``value`` in UTC; naive datetimes are refused because their zone is a guess."""
    if value.tzinfo is UTC:
        return value  # the engine's own clock readings: nothing to check or convert
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


class Dialect:
    """Hooks with the SQLite behaviour; PostgreSQL overrides what it needs."""

    name: ClassVar[str] = "sqlite"
    types: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "integer": "INTEGER",
        # TEXT affinity keeps JSON and timestamps exactly as written (a declared
        # type such as JSON would get NUMERIC affinity and turn "1" into 1).
        "json": "TEXT",
        "time": "TEXT",
    }
    # Appended to a SELECT whose rows the same transaction then updates.
    row_lock: ClassVar[str] = ""
    # Appended to claim's candidate SELECT so concurrent claimers skip each other.
    skip_locked: ClassVar[str] = ""
    # Run first in the migration transaction to serialize concurrent opens (SQLite
    # needs none: every write transaction starts with BEGIN IMMEDIATE).
    migration_lock: ClassVar[str | None] = None

    def unindexed(self, column: str) -> str:
        """``column`` as an ORDER BY term the planner will not read from an index.
        SQLite cannot tell how selective ``updated_at > ?`` is and would rather walk
        the whole ``created_at`` index to skip the sort; unary ``+`` makes it use the
        ``updated_at`` index and sort the few rows found (PostgreSQL has no unary
        plus for times, nor the need)."""
        return f"+{column}"

    def sql(self, text: str) -> str:
        """``text`` with placeholders in this driver's style."""
        return text

    def notify(self, channel: str) -> str | None:
        """A statement telling other processes, once the transaction commits, that
        something happened on ``channel`` (``Store.watch``); None: they poll."""
        return None

    def encode_json(self, text: str) -> Any:
        """A parameter for a JSON column from already-serialized JSON text."""
        return text

    def decode_json(self, raw: Any) -> Any:
        return json.loads(raw)

    def encode_time(self, value: datetime) -> Any:
        # Fixed-width ISO 8601 in UTC sorts as text in time order, so SQL can compare
        # leases and timers without date functions.
        return utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def decode_time(self, raw: Any) -> datetime:
        return datetime.fromisoformat(raw).astimezone(UTC)

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of member ``key`` of a JSON object column (both are
        this code's own names, never a caller's)."""
        return f"json_extract({column}, '$.{key}')"
