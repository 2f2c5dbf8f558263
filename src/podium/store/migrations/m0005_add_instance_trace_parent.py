"""The W3C traceparent an instance continues (podium.tracecontext), so that its
runs are children of the same parent span whichever worker replays them."""

from __future__ import annotations

from podium.store._dialect import Dialect
from podium.store.schema import INSTANCES, add_column_statement


def statements(dialect: Dialect) -> list[str]:
    return [add_column_statement(INSTANCES, "trace_parent", dialect)]
