"""The package surface and the schemes without a server of their own."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

import podium.auth
from podium import WorkflowError
from podium.auth import Authorization
from podium.auth.certificate import client_with_certificate
from podium.dsl.loader import InvalidWorkflowError


def test_public_names() -> None:
    assert podium.auth.__all__ == ["Authorization", "authorize", "resolve_policy"]


def test_header_schemes_and_flows() -> None:
    assert Authorization("Bearer", "t").header == "Bearer t"
    digest = Authorization("Digest", "ada", httpx.DigestAuth("ada", "pw"))
    assert digest.descriptor() == {"scheme": "Digest", "parameter": "ada"}
    with pytest.raises(WorkflowError, match="supported by HTTP calls only"):
        _ = digest.header


def test_certificate_is_not_a_policy_of_the_dsl() -> None:
    with pytest.raises(InvalidWorkflowError, match="unknown property 'certificate'"):
        podium.load("""
document: {dsl: '1.0.3', namespace: test, name: cert, version: '1.0.0'}
do:
  - call:
      call: http
      with:
        method: get
        endpoint:
          uri: https://example.com
          authentication:
            certificate: {}
""")


def test_client_with_certificate_needs_a_readable_pem(tmp_path: Path) -> None:
    with pytest.raises((OSError, ssl.SSLError)):
        client_with_certificate(tmp_path / "missing.pem")
