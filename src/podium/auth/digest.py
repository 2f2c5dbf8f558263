"""Digest authentication (dsl-reference "Digest Authentication", RFC 7616).

Digest answers a server's challenge (its nonce), so no header can be computed
before sending: the authorization carries httpx's ``DigestAuth`` flow, which
sends the request, reads the ``WWW-Authenticate`` challenge and sends it again
with the response. ``$authorization`` is ``{scheme: Digest, parameter:
<username>}``: the header changes with every nonce and the password is a secret.
"""

from __future__ import annotations

import httpx

from podium.auth._policy import Authorization, properties
from podium.dsl import model as m
from podium.engine.state import TaskRun


async def authorize(scheme: m.BasicAuth, run: TaskRun) -> Authorization:
    fields = await properties(scheme, run)
    username = str(fields.get("username", ""))
    flow = httpx.DigestAuth(username, str(fields.get("password", "")))
    return Authorization("Digest", username, flow)
