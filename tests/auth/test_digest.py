"""Digest authentication (RFC 7616) against a real challenge-response server."""

from __future__ import annotations

import pytest

from podium import WorkflowError
from tests.auth.helpers import call, run
from tests.support.oauth_server import OAuthServer


async def test_digest_answers_the_challenge(oauth: OAuthServer) -> None:
    auth = "            digest: {username: ada, password: '${ .pw }'}"
    extra = "      output:\n        as: '${ {body: ., auth: $authorization} }'"
    out = await run(call(f"{oauth.url}/digest/ada/s3cret-pw", auth, extra=extra),
                    {"pw": "s3cret-pw"})
    assert out["body"] == {"authenticated": True, "user": "ada"}
    # The header changes with every nonce; the descriptor never holds the password.
    assert out["auth"] == {"scheme": "Digest", "parameter": "ada"}
    assert oauth.hits["/digest"] == 2  # challenge, then the answer


async def test_wrong_digest_password_is_a_401_error(oauth: OAuthServer) -> None:
    auth = "            digest: {username: ada, password: wrong}"
    with pytest.raises(WorkflowError) as caught:
        await run(call(f"{oauth.url}/digest/ada/right", auth))
    assert caught.value.status == 401


async def test_secret_based_digest(oauth: OAuthServer) -> None:
    auth = "            digest: {use: creds}"
    out = await run(call(f"{oauth.url}/digest/ada/pw12", auth, use="use:\n  secrets: [creds]"),
                    secrets={"creds": {"username": "ada", "password": "pw12"}})
    assert out["authenticated"] is True
