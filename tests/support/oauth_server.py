"""A local OAuth2 authority, OpenID Provider and protected resources.

One uvicorn server on 127.0.0.1 (ephemeral port), in a thread:

- ``POST /oauth2/token`` (also ``/custom/token`` and the OIDC ``/oidc/token``):
  grants ``client_credentials``, ``password``, ``refresh_token`` and token
  exchange; client authentication ``client_secret_basic``, ``client_secret_post``,
  ``client_secret_jwt`` (HS256), ``private_key_jwt`` (any assertion equal to
  ``ASSERTION``) and ``none`` for the public client; form or JSON bodies.
  Errors are RFC 6749 5.2 JSON (``error``, ``error_description``).
- ``GET /.well-known/openid-configuration``: OpenID Provider metadata.
- ``GET /protected``: 200 with the token's grant when the bearer token was
  issued here, else 401.
- ``GET /digest/{user}/{password}``: RFC 7616 digest (MD5, ``qop=auth``).
- ``GET /echo`` answers the request's headers; ``GET /reject`` answers 403 with
  them in the body (a careless service that echoes credentials).

``token_requests`` lists every token request (grant, client auth, encoding,
parameters) and ``hits`` counts requests per path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLIENTS = {"app": "app-secret-1234"}
PUBLIC_CLIENT = "public-app"
USERS = {"ada": "lovelace-pw"}
ASSERTION = "signed.client.assertion"
SUBJECT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
REALM = "podium-tests"


@dataclass
class TokenRequest:
    grant: str
    client_auth: str
    encoding: str
    params: dict[str, Any]


@dataclass
class Issued:
    grant: str
    client: str | None
    params: dict[str, Any]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # RFC 7616 digest: MD5 by default


class OAuthServer:
    """The server; a context manager. ``expires_in`` sets issued tokens' lifetime."""

    def __init__(self) -> None:
        self.url = ""
        self.expires_in: int | None = 3600
        # When set, refresh_token requests get this status (a failing endpoint).
        self.refresh_status: int | None = None
        self.token_requests: list[TokenRequest] = []
        self.hits: Counter[str] = Counter()
        self.access: dict[str, Issued] = {}
        self.refresh: dict[str, Issued] = {}
        self._nonces: set[str] = set()
        self._counter = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- token endpoint ---------------------------------------------------------

    async def token(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        encoding = request.headers.get("content-type", "").split(";")[0]
        if encoding == "application/json":
            params: dict[str, Any] = await request.json()
        else:
            form = await request.form()
            params = {}
            for key, value in form.multi_items():
                if key in params:  # repeated (audience)
                    previous = params[key]
                    params[key] = [*previous, value] if isinstance(previous, list) else [
                        previous, value]
                else:
                    params[key] = value
        client, method, problem = self._client(request, params)
        grant = str(params.get("grant_type", ""))
        self.token_requests.append(TokenRequest(grant, method, encoding, params))
        if problem:
            return self._error(401, "invalid_client", problem)
        if grant == "client_credentials":
            if client is None or client == PUBLIC_CLIENT:
                return self._error(400, "unauthorized_client", "a confidential client only")
        elif grant == "password":
            user = params.get("username")
            if USERS.get(str(user)) != params.get("password"):
                return self._error(400, "invalid_grant", "wrong username or password")
        elif grant == "refresh_token":
            if self.refresh_status is not None:
                return self._error(self.refresh_status, "temporarily_unavailable", "try later")
            if params.get("refresh_token") not in self.refresh:
                return self._error(400, "invalid_grant", "unknown refresh token")
        elif grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            if params.get("subject_token") not in self.access or (
                params.get("subject_token_type") != SUBJECT_TOKEN_TYPE
            ):
                return self._error(400, "invalid_grant", "unknown subject token")
        else:
            return self._error(400, "unsupported_grant_type", f"grant '{grant}'")
        number = next(self._counter)
        issued = Issued(grant, client, params)
        access, refresh = f"at-{number}-{secrets.token_hex(4)}", f"rt-{number}"
        self.access[access] = issued
        self.refresh[refresh] = issued
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer",
                                "refresh_token": refresh}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _client(self, request: Request,
                params: dict[str, Any]) -> tuple[str | None, str, str | None]:
        """(client id, authentication method, problem)."""
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            raw = base64.b64decode(header[6:]).decode()
            client_id, _, secret = raw.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
            if CLIENTS.get(client_id) != secret:
                return None, "client_secret_basic", "bad client credentials"
            return client_id, "client_secret_basic", None
        client_id = params.get("client_id")
        if "client_assertion" in params:
            assertion = str(params["client_assertion"])
            if assertion == ASSERTION:
                return client_id, "private_key_jwt", None
            if not self._valid_jwt(assertion, str(client_id), str(request.url)):
                return None, "client_secret_jwt", "bad client assertion"
            return client_id, "client_secret_jwt", None
        if "client_secret" in params:
            if CLIENTS.get(str(client_id)) != params["client_secret"]:
                return None, "client_secret_post", "bad client credentials"
            return client_id, "client_secret_post", None
        if client_id == PUBLIC_CLIENT:
            return client_id, "none", None
        return None, "none", None

    @staticmethod
    def _valid_jwt(token: str, client_id: str, audience: str) -> bool:
        try:
            head, claims, signature = token.split(".")
            expected = hmac.new(CLIENTS[client_id].encode(), f"{head}.{claims}".encode(),
                                hashlib.sha256).digest()
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        except (KeyError, ValueError):
            return False
        return (hmac.compare_digest(expected, given) and payload["iss"] == client_id
                and payload["aud"] == audience and payload["exp"] > time.time())

    @staticmethod
    def _error(status: int, error: str, description: str) -> Response:
        return JSONResponse({"error": error, "error_description": description}, status)

    # --- discovery and resources -------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        return JSONResponse({"issuer": self.url, "token_endpoint": f"{self.url}/oidc/token"})

    async def protected(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        header = request.headers.get("authorization", "")
        issued = self.access.get(header[7:]) if header.startswith("Bearer ") else None
        if issued is None:
            return JSONResponse({"error": "invalid_token"}, 401,
                                headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse({"grant": issued.grant, "client": issued.client})

    async def digest(self, request: Request) -> Response:
        self.hits["/digest"] += 1
        user, password = request.path_params["user"], request.path_params["password"]
        header = request.headers.get("authorization", "")
        if header.startswith("Digest "):
            fields = {k: v for k, v in re.findall(r'(\w+)="?([^",]*)"?', header[7:])}
            ha1 = _md5(f"{user}:{REALM}:{password}")
            ha2 = _md5(f"{request.method}:{fields.get('uri', '')}")
            expected = _md5(f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:"
                            f"{fields.get('cnonce')}:auth:{ha2}")
            if (fields.get("username") == user and fields.get("nonce") in self._nonces
                    and fields.get("response") == expected):
                return JSONResponse({"authenticated": True, "user": user})
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        challenge = (f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
                     f'opaque="{secrets.token_hex(8)}", algorithm=MD5')
        return Response(status_code=401, headers={"WWW-Authenticate": challenge})

    async def echo(self, request: Request) -> Response:
        return JSONResponse({"headers": dict(request.headers)})

    async def reject(self, request: Request) -> Response:
        return JSONResponse({"refused": dict(request.headers)}, 403)

    def app(self) -> Starlette:
        token = ["POST"]
        return Starlette(routes=[
            Route("/oauth2/token", self.token, methods=token),
            Route("/custom/token", self.token, methods=token),
            Route("/oidc/token", self.token, methods=token),
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/protected", self.protected),
            Route("/digest/{user}/{password}", self.digest),
            Route("/echo", self.echo),
            Route("/reject", self.reject),
        ])

    # --- lifecycle ---------------------------------------------------------------

    def reset(self) -> None:
        self.expires_in = 3600
        self.refresh_status = None
        self.token_requests.clear()
        self.hits.clear()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        config = uvicorn.Config(self.app(), loop="asyncio", http="h11", ws="none",
                                lifespan="off", log_level="warning", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="oauth-server", daemon=True)
        self._thread.start()
        self.url = f"http://{host}:{port}"
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError("the OAuth test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> OAuthServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
