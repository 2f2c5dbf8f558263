"""OpenID Connect authentication (dsl-reference "OpenIdConnect Authentication").

The token endpoint is discovered from the authority's OpenID Provider metadata
(``{authority}/.well-known/openid-configuration``, OpenID Connect Discovery
1.0; an authority that already names that document is used as is), cached per
runtime; tokens are then obtained exactly as for OAuth2.
"""

from __future__ import annotations

from typing import Any

import httpx

from podium.auth import oauth2
from podium.auth._policy import Authorization, failure, properties
from podium.dsl import model as m
from podium.engine.state import TaskRun

WELL_KNOWN = "/.well-known/openid-configuration"


def discovery_url(authority: str) -> str:
    if authority.rstrip("/").endswith(WELL_KNOWN):
        return authority
    return authority.rstrip("/") + WELL_KNOWN


async def authorize(scheme: m.OidcAuth, run: TaskRun) -> Authorization:
    fields = await properties(scheme, run)
    authority = fields.get("authority")
    if not isinstance(authority, str) or not authority:
        raise failure("the OpenID Connect policy needs 'authority'", run)
    metadata = await _metadata(discovery_url(authority), run)
    endpoint = metadata.get("token_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise failure(f"the OpenID Provider at {authority} names no token_endpoint", run)
    return await oauth2.authorize_at(endpoint, fields, run)


async def _metadata(url: str, run: TaskRun) -> dict[str, Any]:
    cache = oauth2.cache_of(run)
    found = cache.documents.get(url)
    if found is not None:
        return found
    try:
        response = await run.instance.services.http.get(
            url, headers={"Accept": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise failure(f"OpenID Connect discovery at {url} failed: "
                      f"{str(exc) or type(exc).__name__}", run) from None
    if not response.is_success:
        raise failure(f"OpenID Connect discovery at {url} answered {response.status_code} "
                      f"{response.reason_phrase}", run)
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise failure(f"OpenID Connect discovery at {url} gave no JSON object", run)
    cache.documents[url] = document
    return document
