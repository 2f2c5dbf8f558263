"""OpenID Connect: discovery, then OAuth2 at the discovered token endpoint."""

from __future__ import annotations

import pytest

from podium import Runtime, WorkflowError
from tests.auth.helpers import call
from tests.support.oauth_server import OAuthServer


def oidc(authority: str) -> str:
    return (f"            oidc:\n              authority: {authority}\n"
            "              grant: client_credentials\n"
            "              client: {id: app, secret: app-secret-1234}")


@pytest.mark.parametrize("suffix", ["", "/", "/.well-known/openid-configuration"])
async def test_discovery_finds_the_token_endpoint_and_is_cached(
    oauth: OAuthServer, suffix: str
) -> None:
    doc = call(f"{oauth.url}/protected", oidc(oauth.url + suffix))
    async with Runtime() as runtime:
        assert (await runtime.run(doc))["client"] == "app"
        await runtime.run(doc)
    assert oauth.hits["/.well-known/openid-configuration"] == 1
    assert oauth.hits["/oidc/token"] == 1


async def test_failed_discovery_is_an_authentication_error(oauth: OAuthServer) -> None:
    with pytest.raises(WorkflowError) as caught:
        async with Runtime() as runtime:
            await runtime.run(call(f"{oauth.url}/protected", oidc(oauth.url + "/nowhere")))
    assert caught.value.status == 401
    assert "discovery" in (caught.value.detail or "")


async def test_secret_based_oidc(oauth: OAuthServer) -> None:
    secret = {"authority": oauth.url, "grant": "password", "username": "ada",
              "password": "lovelace-pw", "client": {"id": "app", "secret": "app-secret-1234"}}
    doc = call(f"{oauth.url}/protected", "            oidc:\n              use: mine",
               use="use:\n  secrets: [mine]")
    async with Runtime(secrets={"mine": secret}) as runtime:
        assert (await runtime.run(doc))["grant"] == "password"
