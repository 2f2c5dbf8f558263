"""OAuth2 authentication (dsl-reference "OAUTH2 Authentication", RFC 6749, RFC 8693).

The runtime asks the authority's token endpoint for an access token and sends
it as the request's ``Authorization``. Grants: ``client_credentials``,
``password``, ``refresh_token`` (the refresh token is ``subject.token``) and
token exchange (``subject``/``actor`` tokens). ``authorization_code`` needs a
user in a browser and is refused.

Tokens are cached per runtime, keyed by the policy's evaluated properties and
the token endpoint, until shortly before ``expires_in`` (a response without it
is not cached). An expired token with a refresh token is refreshed first; when
the token endpoint refuses the refresh token (expired or revoked), the policy's
own grant is asked instead. Any other failure of the refresh (the endpoint
unreachable, a server error, an answer without a token) faults the task: asking
again with the full grant would hide it, and send the client's credentials to
an endpoint that is failing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from podium.auth._policy import Authorization, failure, properties
from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun

DEFAULT_TOKEN_ENDPOINT = "/oauth2/token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"
# Refresh this long before expiry (at most a tenth of the lifetime), so a token
# does not expire between being picked and being checked by the resource.
REFRESH_MARGIN = 30.0
REFRESH_FRACTION = 0.1
# RFC 6749 5.2: how a token endpoint refuses a grant (400 ``invalid_grant`` for an
# expired or revoked refresh token; 401 ``invalid_client``).
REFUSED = frozenset({400, 401})


class _Refused(WorkflowError):
    """The token endpoint answered with an OAuth error response: it refuses the grant."""


@dataclass
class _Token:
    access: str
    type: str
    expires_at: float | None  # time.monotonic(); None: do not reuse
    refresh: str | None = None

    def fresh(self) -> bool:
        return self.expires_at is not None and time.monotonic() < self.expires_at


@dataclass
class _Cache:
    tokens: dict[str, _Token] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # OIDC discovery


# One cache per host (the runtime; or per HTTP client, when there is none).
_caches: weakref.WeakKeyDictionary[object, _Cache] = weakref.WeakKeyDictionary()


def cache_of(run: TaskRun) -> _Cache:
    services = run.instance.services
    owner: object = services.host if services.host is not None else services.http
    cache = _caches.get(owner)
    if cache is None:
        cache = _caches[owner] = _Cache()
    return cache


def token_endpoint(authority: str, path: str | None) -> str:
    path = path or DEFAULT_TOKEN_ENDPOINT
    if "://" in path:
        return path
    return authority.rstrip("/") + "/" + path.lstrip("/")


async def authorize(scheme: m.OAuth2Auth, run: TaskRun) -> Authorization:
    fields = await properties(scheme, run)
    authority = _text(fields, "authority", run)
    endpoints = fields.get("endpoints") or {}
    url = token_endpoint(authority, endpoints.get("token") if isinstance(endpoints, dict)
                         else None)
    return await authorize_at(url, fields, run)


async def authorize_at(url: str, fields: dict[str, Any], run: TaskRun) -> Authorization:
    """The access token ``fields`` (a policy's properties) obtain from ``url``."""
    cache = cache_of(run)
    key = hashlib.sha256(
        json.dumps([url, fields], sort_keys=True, default=str).encode()
    ).hexdigest()
    lock = cache.locks.setdefault(key, asyncio.Lock())
    async with lock:  # one token request per key at a time, the others reuse it
        token = cache.tokens.get(key)
        if token is None or not token.fresh():
            token = await _obtain(url, fields, token, run)
            cache.tokens[key] = token
    return Authorization(token.type, token.access)


async def _obtain(url: str, fields: dict[str, Any], stale: _Token | None,
                  run: TaskRun) -> _Token:
    if stale is not None and stale.refresh and fields.get("grant") != "refresh_token":
        try:
            return await _request(url, {**fields, "grant": "refresh_token",
                                        "subject": {"token": stale.refresh}}, run)
        except _Refused:
            pass  # the refresh token expired or was revoked: the grant itself may still work
    return await _request(url, fields, run)


async def _request(url: str, fields: dict[str, Any], run: TaskRun) -> _Token:
    grant = _text(fields, "grant", run)
    body: dict[str, Any] = {"grant_type": grant}
    if grant == "client_credentials":
        pass
    elif grant == "password":
        body["username"] = _text(fields, "username", run)
        body["password"] = _text(fields, "password", run)
    elif grant == "refresh_token":
        body["refresh_token"] = _token(fields, "subject", run)["token"]
    elif grant == TOKEN_EXCHANGE:
        subject = _token(fields, "subject", run)
        body["subject_token"], body["subject_token_type"] = subject["token"], subject["type"]
        if fields.get("actor") is not None:
            actor = _token(fields, "actor", run)
            body["actor_token"], body["actor_token_type"] = actor["token"], actor["type"]
    else:
        raise failure(f"the OAuth2 grant '{grant}' cannot be used by a runtime (it needs "
                      "a user agent); use client_credentials, password, refresh_token "
                      "or token exchange", run)
    if fields.get("scopes"):
        body["scope"] = " ".join(str(s) for s in fields["scopes"])
    if fields.get("audiences"):
        body["audience"] = [str(a) for a in fields["audiences"]]

    headers = {"Accept": "application/json"}
    _client_authentication(url, fields, body, headers, run)

    encoding = (fields.get("request") or {}).get("encoding") or FORM
    client = run.instance.services.http
    try:
        if encoding == "application/json":
            if isinstance(body.get("audience"), list) and len(body["audience"]) == 1:
                body["audience"] = body["audience"][0]
            response = await client.post(url, json=body, headers=headers)
        else:
            response = await client.post(url, data=body, headers=headers)
    except httpx.HTTPError as exc:
        raise failure(f"the token endpoint {url} could not be reached: "
                      f"{str(exc) or type(exc).__name__}", run) from None
    return _token_from(response, url, run)


def _client_authentication(url: str, fields: dict[str, Any], body: dict[str, Any],
                           headers: dict[str, str], run: TaskRun) -> None:
    client = fields.get("client") or {}
    method = client.get("authentication") or "client_secret_post"
    client_id = client.get("id")
    secret = client.get("secret")
    if method == "client_secret_basic":
        # RFC 6749 2.3.1: both parts form-urlencoded before base64.
        pair = f"{quote(str(client_id or ''), safe='')}:{quote(str(secret or ''), safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return
    if client_id is not None:
        body["client_id"] = str(client_id)
    if method == "client_secret_post":
        if secret is not None:
            body["client_secret"] = str(secret)
    elif method == "client_secret_jwt":
        if client_id is None or secret is None:
            raise failure("client_secret_jwt needs 'client.id' and 'client.secret'", run)
        body["client_assertion_type"] = JWT_BEARER_ASSERTION
        body["client_assertion"] = _client_secret_jwt(str(client_id), str(secret), url)
    elif method == "private_key_jwt":
        if not client.get("assertion"):
            raise failure("private_key_jwt needs the signed JWT in 'client.assertion'", run)
        body["client_assertion_type"] = JWT_BEARER_ASSERTION
        body["client_assertion"] = str(client["assertion"])


def _client_secret_jwt(client_id: str, secret: str, audience: str) -> str:
    """RFC 7523 section 2.2 client authentication: an HS256 JWT signed with the secret."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": uuid.uuid4().hex,
              "iat": now, "exp": now + 300}

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _token_from(response: httpx.Response, url: str, run: TaskRun) -> _Token:
    try:
        payload = response.json() if response.content else {}
    except ValueError:
        payload = {}
    if not response.is_success:
        reason = ""
        if isinstance(payload, dict) and payload.get("error"):
            reason = str(payload["error"])
            if payload.get("error_description"):
                reason += f": {payload['error_description']}"
        error = failure(f"the token endpoint {url} answered {response.status_code} "
                        f"{response.reason_phrase}" + (f" ({reason})" if reason else ""), run)
        if response.status_code in REFUSED:
            raise _Refused(error.type, error.status, error.title, error.detail, error.instance)
        raise error
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
        raise failure(f"the token endpoint {url} answered without an access_token", run)
    token_type = str(payload.get("token_type") or "Bearer")
    if token_type.lower() == "bearer":
        token_type = "Bearer"  # RFC 6749 makes it case-insensitive; RFC 6750 spells it so
    expires_at = None
    lifetime = payload.get("expires_in")
    if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
        expires_at = time.monotonic() + lifetime - min(REFRESH_MARGIN,
                                                            lifetime * REFRESH_FRACTION)
    refresh = payload.get("refresh_token")
    return _Token(payload["access_token"], token_type, expires_at,
                  refresh if isinstance(refresh, str) else None)


def _text(fields: dict[str, Any], name: str, run: TaskRun) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise failure(f"the OAuth2 policy needs '{name}'", run)
    return value


def _token(fields: dict[str, Any], name: str, run: TaskRun) -> dict[str, str]:
    value = fields.get(name)
    if not isinstance(value, dict) or not value.get("token"):
        raise failure(f"the OAuth2 grant '{fields.get('grant')}' needs '{name}.token'", run)
    return {"token": str(value["token"]), "type": str(value.get("type") or "")}
