"""Create the definitions, instances and journal tables with their indexes."""

from __future__ import annotations

from podium.store._dialect import Dialect
from podium.store.schema import DEFINITIONS, INSTANCES, JOURNAL, create_statements


def statements(dialect: Dialect) -> list[str]:
    return [
        s for table in (DEFINITIONS, INSTANCES, JOURNAL) for s in create_statements(dialect, table)
    ]
