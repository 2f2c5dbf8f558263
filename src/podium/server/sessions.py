"""The dashboard's sessions: a signed cookie naming which token signed in (by its
SHA-256 fingerprint, never the token), and the CSRF token of the session's forms.

The cookie is HMAC-signed with a key of this process (random unless given), so
sessions end when ``podium serve`` restarts; its role is looked up again on
every request, so a token removed from the configuration ends its sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "podium_session"
LIFETIME_SECONDS = 12 * 3600


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """``token``: the fingerprint of the token that signed in (None: the open
    dashboard of a server without tokens)."""

    id: str
    token: str | None
    issued: int


class Sessions:
    def __init__(self, key: bytes | None = None, lifetime: int = LIFETIME_SECONDS) -> None:
        self._key = key or secrets.token_bytes(32)
        self.lifetime = lifetime

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def new(self, token: str | None) -> Session:
        return Session(secrets.token_urlsafe(18), fingerprint(token) if token else None,
                       int(time.time()))

    def encode(self, session: Session) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(
            {"i": session.id, "t": session.token, "at": session.issued},
            separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload.encode())}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, if this process signed it and it has not expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(str(data["i"]), data["t"], int(data["at"]))
        except (ValueError, KeyError, TypeError):
            return None
        if not 0 <= time.time() - session.issued <= self.lifetime:
            return None
        return session

    def sign(self, text: str) -> str:
        """``text`` with its signature, for a cookie (a flash message)."""
        payload = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload.encode())}"

    def unsign(self, value: str | None) -> str | None:
        if not value or "." not in value:
            return None
        payload, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload.encode())):
            return None
        try:
            return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        except ValueError:
            return None

    def csrf(self, session: Session) -> str:
        """The token the session's forms carry (bound to the session: synchronizer)."""
        return self._sign(f"csrf:{session.id}".encode())

    def csrf_ok(self, session: Session | None, presented: str | None) -> bool:
        return (session is not None and presented is not None
                and hmac.compare_digest(self.csrf(session), presented))
