"""Secret sources (podium.secrets) and keeping secret values out of every record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from podium.engine.secret_refs import MARKER
from podium.secrets import Redactor, SecretStore
from podium.store import open_store
from tests.support.oauth_server import OAuthServer

AUTHORIZATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization"


# --- sources ------------------------------------------------------------------------


def test_given_mapping_wins_over_environment_and_files(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("from-file\n")
    settings = Settings(secrets_env_prefix="PODIUM_SECRET_", secrets_path=tmp_path)
    store = SecretStore({"db": "given"}, settings, environ={"PODIUM_SECRET_DB": "from-env"})
    assert store["db"] == "given"
    store = SecretStore({}, settings, environ={"PODIUM_SECRET_DB": "from-env"})
    assert store["db"] == "from-env"
    store = SecretStore({}, settings, environ={})
    assert store["db"] == "from-file"  # the trailing newline of a mounted file is dropped


def test_environment_names_and_json_objects() -> None:
    environ = {"APP_SECRET_MY_API_KEY": "k-123", "APP_SECRET_creds": '{"username": "ada"}',
               "APP_SECRET_BRACE": "{not json"}
    store = SecretStore(settings=Settings(secrets_env_prefix="APP_SECRET_"), environ=environ)
    assert store.get("my-api.key") == "k-123"  # upper-cased, other characters as _
    assert store["creds"] == {"username": "ada"}  # exact spelling first
    assert store["brace"] == "{not json"
    assert store.get("absent") is None
    assert set(store) == {"my_api_key", "creds", "brace"}


def test_secrets_file_yaml_or_json(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text("db: {user: ada, password: pw}\ntoken: abc\n")
    store = SecretStore(settings=Settings(secrets_path=path), environ={})
    assert store["db"] == {"user": "ada", "password": "pw"}
    assert dict(store) == {"db": {"user": "ada", "password": "pw"}, "token": "abc"}
    path.write_text(json.dumps({"token": "rotated"}))
    assert store["token"] == "rotated"  # read when asked for


def test_secrets_directory_one_file_per_secret(tmp_path: Path) -> None:
    (tmp_path / "raw").write_text("a: b is text\n")
    (tmp_path / "obj.json").write_text('{"k": 1}')
    (tmp_path / "conf.yaml").write_text("k: 2\n")
    store = SecretStore(settings=Settings(secrets_path=tmp_path), environ={})
    assert store["raw"] == "a: b is text"
    assert store["obj"] == {"k": 1}
    assert store["conf"] == {"k": 2}
    assert store.get("../raw") is None
    assert sorted(store) == ["conf", "obj", "raw"]


def doc(body: str, secrets: str = "[apiKey]") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: secrets, version: '1.0.0'}}
use:
  secrets: {secrets}
do:
{body}
"""


async def test_runtime_reads_environment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_SECRET_APIKEY", "from-the-env")
    settings = Settings(secrets_env_prefix="PODIUM_SECRET_")
    body = '  - read:\n      set:\n        key: ${ $secrets.apiKey == "from-the-env" }'
    async with Runtime(settings=settings) as runtime:
        assert await runtime.run(doc(body)) == {"key": True}


async def test_undeclared_or_missing_secrets_are_refused() -> None:
    body = "  - read:\n      set:\n        key: ${ $secrets.other }"
    async with Runtime(secrets={"apiKey": "k", "other": "o"}) as runtime:
        out = await runtime.run(doc(body))
    assert out == {"key": None}  # declared names only
    async with Runtime() as runtime:
        execution = await runtime.execute(doc(body))
    assert execution.error is not None
    assert (execution.error.type, execution.error.status) == (AUTHORIZATION, 403)


# --- redaction ----------------------------------------------------------------------


def test_redactor_replaces_values_and_leaves_short_ones() -> None:
    redactor = Redactor()
    assert redactor.redact({"a": "x"}) == {"a": "x"}
    redactor.add({"user": "ada", "password": "p@ss word", "nested": ["tok-1234"]})
    data = {"h": "Basic p@ss word", "u": "https://x/?p=p%40ss%20word", "ada": ["tok-1234!"]}
    assert redactor.redact(data) == {"h": "Basic ***", "u": "https://x/?p=***",
                                     "ada": ["***!"]}


SECRET = "sk-live-4242-very-secret"


@pytest.fixture(scope="module")
def services() -> Iterator[OAuthServer]:
    with OAuthServer() as server:  # /echo and /reject echo the request's headers
        yield server


async def test_a_secret_never_reaches_journal_errors_or_events(
    tmp_path: Path, services: OAuthServer
) -> None:
    url = services.url
    body = f"""  - echo:
      input:
        from: '${{ {{key: $secrets.apiKey}} }}'
      call: http
      with:
        method: get
        endpoint: {url}/echo
        headers:
          X-Api-Key: ${{ .key }}
  - reject:
      input:
        from: '${{ {{key: $secrets.apiKey}} }}'
      call: http
      with:
        method: get
        endpoint: {url}/reject
        headers:
          X-Api-Key: ${{ .key }}"""
    events: list[dict[str, Any]] = []
    store = open_store(f"sqlite:///{tmp_path / 'podium.db'}")
    await store.open()
    try:
        async with Runtime(store=store, secrets={"apiKey": SECRET},
                           listeners=[events.append]) as runtime:
            execution = await runtime.execute(doc(body))
        journal = await store.read_journal(execution.id)
    finally:
        await store.close()

    assert execution.status == "faulted"
    assert journal and events
    # The service saw the secret, so the outcome and the failure really held it:
    # the journal holds references to it (resolved on replay), never the value.
    assert any(MARKER in json.dumps(entry.data, ensure_ascii=False) for entry in journal)
    for entry in journal:
        assert SECRET not in json.dumps(entry.data), entry
    for event in events:
        assert SECRET not in json.dumps(event), event
    faulted = next(e for e in events if e["type"].endswith("workflow.faulted.v1"))
    assert "***" in faulted["data"]["error"]["detail"]


def test_redact_error_in_place() -> None:
    redactor = Redactor()
    redactor.add("hunter2-secret")
    error = WorkflowError.runtime("the server said hunter2-secret", "/do/0/t")
    assert redactor.redact_error(error) is error
    assert error.detail == "the server said ***"


def test_descriptive_properties_of_a_secret_object_are_not_redacted() -> None:
    from podium.secrets import Redactor

    redactor = Redactor()
    redactor.add({"grant": "password", "username": "ada", "password": "lovelace-pw",
                  "subject": {"token": "tok-123456", "type": "urn:x:access_token"}})
    assert redactor.redact("grant=password pw=lovelace-pw t=tok-123456 urn:x:access_token") == (
        "grant=password pw=*** t=*** urn:x:access_token"
    )
