"""Crash counters on instances (poison-instance quarantine) and the resources a
definition names, stored with it when deployed (content-addressed)."""

from __future__ import annotations

from podium.store._dialect import Dialect
from podium.store.schema import (
    DEFINITIONS,
    INSTANCES,
    RESOURCES,
    add_column_statement,
    create_statements,
)


def statements(dialect: Dialect) -> list[str]:
    return [
        add_column_statement(INSTANCES, "crashes", dialect),
        add_column_statement(INSTANCES, "claimed_seq", dialect),
        add_column_statement(INSTANCES, "claimed_alone", dialect),
        add_column_statement(DEFINITIONS, "resources", dialect),
        *create_statements(dialect, RESOURCES),
    ]
