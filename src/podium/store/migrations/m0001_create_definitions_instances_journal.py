"""Create the definitions, instances and journal tables with their indexes."""

from __future__ import annotations

from dataclasses import replace

from podium.store._dialect import Dialect
from podium.store.schema import DEFINITIONS, INSTANCES, JOURNAL, Table, create_statements

# The columns and indexes later migrations added: this one creates the tables as
# they first were.
_ADDED_LATER = {"resources", "crashes", "claimed_seq", "claimed_alone", "trace_parent"}
_INDEXED_LATER = {"podium_instances_workflow_created", "podium_instances_updated"}


def _original(table: Table) -> Table:
    return replace(
        table,
        columns=tuple(c for c in table.columns if c.name not in _ADDED_LATER),
        indexes=tuple(i for i in table.indexes if i.name not in _INDEXED_LATER),
    )


def statements(dialect: Dialect) -> list[str]:
    return [
        s
        for table in (DEFINITIONS, INSTANCES, JOURNAL)
        for s in create_statements(dialect, _original(table))
    ]
