"""The API against its own OpenAPI document (schemathesis): whatever the
generated requests, valid or not, no 500, and every response conforms to what the
document declares (status, content type, body shape). Both stores.

schemathesis calls the app from an event loop of its own (a thread), so the store
and the runtime are opened there, by the app's lifespan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.python import asgi

from podium import Runtime
from podium.server import ServerSettings, create_app
from podium.store import open_store
from tests.server.conftest import GREET
from tests.support.postgres import PostgresServer


class OpenedOnStartup:
    """The API app, its store and runtime opened by the ASGI lifespan (in the
    event loop of whoever runs the app), with one definition deployed."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        await receive()  # lifespan.startup
        store = open_store(self.store_url)
        await store.open()
        async with Runtime(store=store) as runtime:
            self.app = create_app(runtime, ServerSettings(store_url=self.store_url,
                                                          max_body=64 * 1024))
            await runtime.deploy(GREET)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await store.close()
        await send({"type": "lifespan.shutdown.complete"})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_schema(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if request.param == "sqlite":
        directory: Path = tmp_path_factory.mktemp("contract")
        url = f"sqlite:///{directory / 'podium.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database()
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", OpenedOnStartup(url))
    asgi.shutdown_lifespans()


schema = schemathesis.pytest.from_fixture("api_schema")


# Bodies checked against their own standards, which the OpenAPI document only
# outlines: it cannot say which texts are valid workflows, nor every CloudEvents
# rule (extension attribute names, URI references).
OWN_RULES = {"POST /api/v1/definitions", "POST /api/v1/events"}


@schema.parametrize()
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@pytest.mark.timeout(60)
def test_the_api_keeps_its_own_contract(case: Any) -> None:
    # A stream never ends by itself: what it sent within the timeout is checked.
    stream = case.path.endswith("/stream")
    excluded = ([checks.positive_data_acceptance, checks.negative_data_rejection]
                if case.operation.label in OWN_RULES else [])
    case.call_and_validate(timeout=0.15 if stream else 10, excluded_checks=excluded)
