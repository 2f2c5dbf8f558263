"""Basic authentication (dsl-reference "Basic Authentication", RFC 7617)."""

from __future__ import annotations

import base64

from podium.auth._policy import Authorization, properties
from podium.dsl import model as m
from podium.engine.state import TaskRun


async def authorize(scheme: m.BasicAuth, run: TaskRun) -> Authorization:
    fields = await properties(scheme, run)
    token = f"{fields.get('username', '')}:{fields.get('password', '')}"
    return Authorization("Basic", base64.b64encode(token.encode()).decode())
