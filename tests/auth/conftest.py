"""The local OAuth2 authority (tests/support/oauth_server.py), one per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oauth_server import OAuthServer


@pytest.fixture(scope="session")
def oauth_session() -> Iterator[OAuthServer]:
    with OAuthServer() as server:
        yield server


@pytest.fixture
def oauth(oauth_session: OAuthServer) -> OAuthServer:
    oauth_session.reset()
    return oauth_session

