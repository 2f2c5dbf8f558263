"""Indexes for the API's instance filters: one workflow's instances newest first
(a dead-letter queue is ``status=faulted`` of one workflow), and the instances
changed since a time (what live views poll every second)."""

from __future__ import annotations

from podium.store._dialect import Dialect
from podium.store.schema import INSTANCES, create_index_statement

_ADDED = ("podium_instances_workflow_created", "podium_instances_updated")


def statements(dialect: Dialect) -> list[str]:
    return [create_index_statement(INSTANCES, index)
            for index in INSTANCES.indexes if index.name in _ADDED]
