"""Bearer authentication (dsl-reference "Bearer Authentication", RFC 6750)."""

from __future__ import annotations

from podium.auth._policy import Authorization, properties
from podium.dsl import model as m
from podium.engine.state import TaskRun


async def authorize(scheme: m.BearerAuth, run: TaskRun) -> Authorization:
    return Authorization("Bearer", str((await properties(scheme, run)).get("token", "")))
