"""Mutual TLS end to end: a server that requires a client certificate, and a
runtime whose HTTP client presents one (``client_with_certificate``)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from podium import Runtime
from podium.auth.certificate import client_with_certificate
from tests.support.threaded_server import ThreadedServer


async def _whoami(request: Request) -> JSONResponse:
    return JSONResponse({"tls": request.url.scheme == "https"})


@pytest.fixture
def pki(tmp_path: Path) -> Iterator[dict[str, Path]]:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    client_cert = ca.issue_cert("podium-client@example.com")
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "server", "client")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(files["client"]))
    yield files


def _server(pki: dict[str, Path]) -> ThreadedServer:
    app = Starlette(routes=[Route("/whoami", _whoami)])
    return ThreadedServer(
        app,
        ssl_certfile=str(pki["server"]),
        ssl_ca_certs=str(pki["ca"]),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )


def _call(port: int) -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: mtls, version: '1.0.0'}}
do:
  - whoami:
      call: http
      with:
        method: get
        endpoint: https://127.0.0.1:{port}/whoami
"""


async def test_a_client_certificate_opens_a_server_that_requires_one(
    pki: dict[str, Path],
) -> None:
    with _server(pki) as server:
        client = client_with_certificate(pki["client"], verify=pki["ca"])
        async with Runtime(http_client=client) as runtime:
            out = await runtime.run(_call(server.port))
        await client.aclose()
    assert out == {"tls": True}


async def test_without_a_client_certificate_the_call_fails_cleanly(
    pki: dict[str, Path],
) -> None:
    import httpx

    with _server(pki) as server:
        client = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(pki["ca"])))
        async with Runtime(http_client=client) as runtime:
            execution = await runtime.execute(_call(server.port))
        await client.aclose()
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type.endswith("/errors/communication")
