"""OAuth2 against a real local authority (tests/support/oauth_server.py)."""

from __future__ import annotations

import httpx
import pytest

from podium import Runtime, WorkflowError
from podium.auth import oauth2 as oauth2_module
from tests.auth.helpers import call, run
from tests.support.oauth_server import ASSERTION, SUBJECT_TOKEN_TYPE, OAuthServer

AUTHENTICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authentication"


def oauth2(body: str) -> str:
    return "            oauth2:\n" + "\n".join(
        "              " + line for line in body.strip().splitlines()
    )


def client_credentials(url: str, method: str = "client_secret_post", extra: str = "") -> str:
    return oauth2(f"""
authority: {url}
grant: client_credentials
client: {{id: app, secret: app-secret-1234, authentication: {method}}}
{extra}""")


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic",
                                    "client_secret_jwt"])
async def test_client_credentials_with_each_client_authentication(
    oauth: OAuthServer, method: str
) -> None:
    out = await run(call(f"{oauth.url}/protected", client_credentials(oauth.url, method)))
    assert out == {"grant": "client_credentials", "client": "app"}
    [request] = oauth.token_requests
    assert request.client_auth == method
    assert request.encoding == "application/x-www-form-urlencoded"
    if method != "client_secret_post":
        assert "client_secret" not in request.params


async def test_client_secret_post_is_the_default(oauth: OAuthServer) -> None:
    auth = oauth2(f"""
authority: {oauth.url}
grant: client_credentials
client: {{id: app, secret: app-secret-1234}}""")
    await run(call(f"{oauth.url}/protected", auth))
    assert oauth.token_requests[0].client_auth == "client_secret_post"


async def test_private_key_jwt_sends_the_given_assertion(oauth: OAuthServer) -> None:
    auth = oauth2(f"""
authority: {oauth.url}
grant: client_credentials
client: {{id: app, assertion: {ASSERTION}, authentication: private_key_jwt}}""")
    assert (await run(call(f"{oauth.url}/protected", auth)))["client"] == "app"
    assert oauth.token_requests[0].params["client_assertion_type"].endswith("jwt-bearer")


async def test_json_encoding_scopes_audiences_and_custom_endpoint(oauth: OAuthServer) -> None:
    auth = client_credentials(oauth.url, extra="""request: {encoding: application/json}
scopes: [api, read]
audiences: [runtime, other]
endpoints: {token: /custom/token}""")
    await run(call(f"{oauth.url}/protected", auth))
    [request] = oauth.token_requests
    assert oauth.hits["/custom/token"] == 1
    assert request.encoding == "application/json"
    assert request.params["scope"] == "api read"
    assert request.params["audience"] == ["runtime", "other"]


async def test_form_encoding_repeats_audience(oauth: OAuthServer) -> None:
    await run(call(f"{oauth.url}/protected",
                   client_credentials(oauth.url, extra="audiences: [a1, a2]")))
    assert oauth.token_requests[0].params["audience"] == ["a1", "a2"]


async def test_password_grant_with_public_client(oauth: OAuthServer) -> None:
    auth = oauth2(f"""
authority: {oauth.url}
grant: password
client: {{id: public-app, authentication: none}}
username: ada
password: lovelace-pw""")
    out = await run(call(f"{oauth.url}/protected", auth))
    assert out == {"grant": "password", "client": "public-app"}
    assert oauth.token_requests[0].client_auth == "none"


async def test_refresh_token_grant_uses_the_subject_token(oauth: OAuthServer) -> None:
    first = await run(call(f"{oauth.url}/protected", client_credentials(oauth.url),
                           extra="      output:\n        as: ${ $authorization }"))
    assert first["scheme"] == "Bearer"
    refresh = next(r for r, issued in oauth.refresh.items()
                   if issued is oauth.access[first["parameter"]])
    auth = oauth2(f"""
authority: {oauth.url}
grant: refresh_token
client: {{id: app, secret: app-secret-1234}}
subject: {{token: {refresh}, type: urn:ietf:params:oauth:token-type:refresh_token}}""")
    assert (await run(call(f"{oauth.url}/protected", auth)))["grant"] == "refresh_token"


async def test_token_exchange_with_subject_and_actor(oauth: OAuthServer) -> None:
    first = await run(call(f"{oauth.url}/protected", client_credentials(oauth.url),
                           extra="      output:\n        as: ${ $authorization.parameter }"))
    auth = oauth2(f"""
authority: {oauth.url}
grant: urn:ietf:params:oauth:grant-type:token-exchange
client: {{id: app, secret: app-secret-1234}}
subject: {{token: {first}, type: {SUBJECT_TOKEN_TYPE}}}
actor: {{token: actor-jwt, type: urn:ietf:params:oauth:token-type:jwt}}""")
    out = await run(call(f"{oauth.url}/protected", auth))
    assert out["grant"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    params = oauth.token_requests[-1].params
    assert params["subject_token"] == first
    assert params["actor_token"] == "actor-jwt"


async def test_tokens_are_cached_per_runtime_until_near_expiry(oauth: OAuthServer) -> None:
    doc = call(f"{oauth.url}/protected", client_credentials(oauth.url))
    async with Runtime() as runtime:
        for _ in range(3):
            await runtime.run(doc)
    assert len(oauth.token_requests) == 1
    async with Runtime() as runtime:  # another runtime, its own cache
        await runtime.run(doc)
    assert len(oauth.token_requests) == 2


async def test_expiring_token_is_refreshed_with_its_refresh_token(
    oauth: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    oauth.expires_in = 20
    monkeypatch.setattr(oauth2_module, "REFRESH_FRACTION", 1.0)  # stale as soon as issued
    doc = call(f"{oauth.url}/protected", client_credentials(oauth.url))
    async with Runtime() as runtime:
        await runtime.run(doc)
        await runtime.run(doc)
    grants = [r.grant for r in oauth.token_requests]
    assert grants == ["client_credentials", "refresh_token"]


@pytest.fixture
def stale_at_once(oauth: OAuthServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens are stale as soon as they are issued: the next call refreshes."""
    oauth.expires_in = 20
    monkeypatch.setattr(oauth2_module, "REFRESH_FRACTION", 1.0)


@pytest.mark.usefixtures("stale_at_once")
async def test_a_refused_refresh_token_falls_back_to_the_grant(oauth: OAuthServer) -> None:
    doc = call(f"{oauth.url}/protected", client_credentials(oauth.url))
    async with Runtime() as runtime:
        await runtime.run(doc)
        oauth.refresh.clear()  # revoked: the endpoint answers 400 invalid_grant
        assert await runtime.run(doc) == {"grant": "client_credentials", "client": "app"}
    grants = [r.grant for r in oauth.token_requests]
    assert grants == ["client_credentials", "refresh_token", "client_credentials"]


@pytest.mark.usefixtures("stale_at_once")
async def test_a_failing_token_endpoint_is_not_asked_for_the_grant_again(
    oauth: OAuthServer,
) -> None:
    doc = call(f"{oauth.url}/protected", client_credentials(oauth.url))
    async with Runtime() as runtime:
        await runtime.run(doc)
        oauth.refresh_status = 503
        with pytest.raises(WorkflowError) as caught:
            await runtime.run(doc)
    assert caught.value.type == AUTHENTICATION
    assert "answered 503" in (caught.value.detail or "")
    assert [r.grant for r in oauth.token_requests] == ["client_credentials", "refresh_token"]


class _RefreshUnreachable(httpx.AsyncBaseTransport):
    """The network, failing for refresh requests only."""

    def __init__(self) -> None:
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b"grant_type=refresh_token" in request.content:
            raise httpx.ConnectError("connection refused", request=request)
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


@pytest.mark.usefixtures("stale_at_once")
async def test_an_unreachable_token_endpoint_is_not_asked_for_the_grant_again(
    oauth: OAuthServer,
) -> None:
    doc = call(f"{oauth.url}/protected", client_credentials(oauth.url))
    async with (httpx.AsyncClient(transport=_RefreshUnreachable()) as client,
                Runtime(http_client=client) as runtime):
        await runtime.run(doc)
        with pytest.raises(WorkflowError) as caught:
            await runtime.run(doc)
    assert caught.value.type == AUTHENTICATION
    assert "could not be reached: connection refused" in (caught.value.detail or "")
    assert [r.grant for r in oauth.token_requests] == ["client_credentials"]


async def test_token_without_expiry_is_not_reused(oauth: OAuthServer) -> None:
    oauth.expires_in = None
    doc = call(f"{oauth.url}/protected", client_credentials(oauth.url))
    async with Runtime() as runtime:
        await runtime.run(doc)
        await runtime.run(doc)
    assert len(oauth.token_requests) == 2


async def test_different_parameters_get_different_tokens(oauth: OAuthServer) -> None:
    async with Runtime() as runtime:
        await runtime.run(call(f"{oauth.url}/protected",
                               client_credentials(oauth.url, extra="scopes: [a]")))
        await runtime.run(call(f"{oauth.url}/protected",
                               client_credentials(oauth.url, extra="scopes: [b]")))
    assert len(oauth.token_requests) == 2


async def test_token_endpoint_refusal_is_an_authentication_error(oauth: OAuthServer) -> None:
    auth = oauth2(f"""
authority: {oauth.url}
grant: client_credentials
client: {{id: app, secret: wrong-secret-value}}""")
    with pytest.raises(WorkflowError) as caught:
        await run(call(f"{oauth.url}/protected", auth))
    error = caught.value
    assert (error.type, error.status) == (AUTHENTICATION, 401)
    assert error.instance == "/do/0/call"
    assert "invalid_client: bad client credentials" in (error.detail or "")
    assert "wrong-secret-value" not in str(error.to_dict())


async def test_unreachable_authority_is_an_authentication_error(oauth: OAuthServer) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(call(f"{oauth.url}/protected", client_credentials("http://127.0.0.1:9")))
    assert caught.value.type == AUTHENTICATION


async def test_authorization_code_is_refused_clearly(oauth: OAuthServer) -> None:
    auth = oauth2(f"""
authority: {oauth.url}
grant: authorization_code
client: {{id: app, secret: app-secret-1234}}""")
    with pytest.raises(WorkflowError, match="needs a user agent"):
        await run(call(f"{oauth.url}/protected", auth))
    assert oauth.token_requests == []


async def test_secret_based_policy_and_expressions(oauth: OAuthServer) -> None:
    auth = "            oauth2:\n              use: idp"
    secret = {"authority": oauth.url, "grant": "client_credentials",
              "client": {"id": "app", "secret": "app-secret-1234"}}
    out = await run(call(f"{oauth.url}/protected", auth, use="use:\n  secrets: [idp]"),
                    secrets={"idp": secret})
    assert out["client"] == "app"

    inline = oauth2(f"""
authority: {oauth.url}
grant: client_credentials
client: {{id: '${{ .client }}', secret: '${{ $secrets.pw }}'}}""")
    out = await run(call(f"{oauth.url}/protected", inline, use="use:\n  secrets: [pw]"),
                    {"client": "app"}, secrets={"pw": "app-secret-1234"})
    assert out["client"] == "app"
