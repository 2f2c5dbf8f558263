"""Tokens from the environment and a file; who acted, never the token."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from podium.server.security import identity, is_loopback, load_tokens


def test_tokens_from_the_environment_and_a_file(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("# on-call\nfile-op:operator\n\nfile-view:viewer\n", encoding="utf-8")
    tokens = load_tokens({"PODIUM_API_TOKENS": "env-a:viewer, env:b:operator"}, file)
    assert tokens == {"env-a": "viewer", "env:b": "operator", "file-op": "operator",
                      "file-view": "viewer"}


@pytest.mark.parametrize("text", ["s3cret", ":viewer", "s3cret:root"])
def test_a_bad_pair_is_refused_without_showing_the_token(text: str) -> None:
    with pytest.raises(ValueError, match="PODIUM_API_TOKENS: pair 1") as raised:
        load_tokens({"PODIUM_API_TOKENS": text}, None)
    assert "s3cret" not in str(raised.value)


def test_identity_names_the_role_and_a_digest_prefix() -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()[:6]
    assert identity("operator", "s3cret") == f"api:operator:{digest}"
    assert identity("operator", None) == "api:open"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("example.com", False),
])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
