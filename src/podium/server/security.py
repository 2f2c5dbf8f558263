"""Who may call the API: bearer tokens with two roles, ``viewer`` (reads) and
``operator`` (reads, actions, deploys, events). Tokens come from
``PODIUM_API_TOKENS`` or a file (``token:role`` pairs); with none configured the
API is open, which ``podium serve`` allows only on a loopback address."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from pathlib import Path

from fastapi import Request

from podium.server.problems import ApiProblem
from podium.server.sessions import COOKIE, Session, Sessions, fingerprint

VIEWER = "viewer"
OPERATOR = "operator"
ROLES = (VIEWER, OPERATOR)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_tokens(text: str, origin: str) -> dict[str, str]:
    """``{token: role}`` from comma- or newline-separated ``token:role`` pairs
    (blank lines and ``#`` comments skipped); ``ValueError`` naming ``origin``
    and the pair's position (never the token) for anything else."""
    tokens: dict[str, str] = {}
    pairs = [part.strip() for line in text.splitlines() for part in line.split(",")]
    for number, pair in enumerate((p for p in pairs if p and not p.startswith("#")), 1):
        token, sep, role = pair.rpartition(":")
        if not sep or not token:
            raise ValueError(f"{origin}: pair {number} is not token:role")
        if role not in ROLES:
            raise ValueError(f"{origin}: pair {number} has role {role!r}; "
                             f"the roles are {', '.join(ROLES)}")
        tokens[token] = role
    return tokens


def load_tokens(environ: Mapping[str, str], file: Path | None) -> dict[str, str]:
    """The tokens of ``--tokens FILE`` and ``PODIUM_API_TOKENS`` together."""
    tokens = parse_tokens(environ.get("PODIUM_API_TOKENS", ""), "PODIUM_API_TOKENS")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--tokens {file}: cannot be read ({exc})") from None
        tokens.update(parse_tokens(text, f"--tokens {file}"))
    return tokens


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def identity(role: str, token: str | None, surface: str = "api") -> str:
    """Who acted, for the audit trail: ``api:<role>:<6 hex of sha256(token)>``
    (``api:open`` without tokens; ``dashboard:...`` from the dashboard); never
    the token itself."""
    return _named(role, fingerprint(token) if token is not None else None, surface)


def _named(role: str, token_fingerprint: str | None, surface: str) -> str:
    if token_fingerprint is None:
        return f"{surface}:open"
    return f"{surface}:{role}:{token_fingerprint[:6]}"


def session_caller(tokens: Mapping[str, str], session: Session | None) -> tuple[str, str] | None:
    """The role and identity (``dashboard:<role>:<hash>``) of a dashboard session;
    None when it names no token configured now. Without tokens every session is
    the open dashboard's operator."""
    if session is None:
        return None
    if not tokens:
        return OPERATOR, _named(OPERATOR, None, "dashboard")
    if session.token is None:
        return None
    found = None
    for token, role in tokens.items():
        if hmac.compare_digest(fingerprint(token), session.token):
            found = role
    return None if found is None else (found, _named(found, session.token, "dashboard"))


def _role_of(tokens: Mapping[str, str], presented: str) -> str | None:
    """The role of ``presented``, comparing with every token in constant time
    (each comparison runs; none stops at the first differing byte)."""
    found = None
    given = presented.encode()
    for token, role in tokens.items():
        if hmac.compare_digest(token.encode(), given):
            found = role
    return found


def authorize(tokens: Mapping[str, str], request: Request) -> str:
    """The caller's identity, or an ``ApiProblem``: 401 without a known token,
    403 for a viewer asking for anything but a read."""
    if not tokens:
        return identity(OPERATOR, None)
    header = request.headers.get("authorization", "")
    sessions: Sessions | None = getattr(request.app.state, "podium_sessions", None)
    if not header and request.method in READ_METHODS and sessions is not None:
        # The dashboard's pages read the API (its live streams) with their session
        # cookie; a session never writes through the API (its forms do, with CSRF).
        signed_in = session_caller(tokens, sessions.decode(request.cookies.get(COOKIE)))
        if signed_in is not None:
            return signed_in[1]
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiProblem(401, "a bearer token is required (Authorization: Bearer <token>)",
                         "unauthorized")
    presented = presented.strip()
    role = _role_of(tokens, presented)
    if role is None:
        raise ApiProblem(401, "the bearer token is not known", "unauthorized")
    if role == VIEWER and request.method not in READ_METHODS:
        raise ApiProblem(403, f"the role viewer may only read; {request.method} needs operator",
                         "forbidden")
    return identity(role, presented)
