"""Secrets survive replay (issue 7, item 9): a task that read a secret before its
instance parked, was killed or moved to another worker gets the real value back
on replay, while the journal rows (read with SQL) never hold it.

The reproducer: ``set: {v: ${ $secrets.apikey }}``, a wait, then ``call: http``
sending ``X-Api-Key: ${ .v }``. Before the fix the replayed call sent ``***``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from podium import load
from podium.engine.secret_refs import MARKER
from podium.runtime import Runtime
from podium.store import Store, open_store
from tests.durability.helpers import ended, in_status, journaled, working
from tests.support.counting_server import CountingServer

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-live-7f3a9c-replayed-key"
AUTHORIZATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization"


def reproducer(base: str, wait: str = "{milliseconds: 1500}", name: str = "replay") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: secrets, name: {name}, version: '1.0.0'}}
use:
  secrets: [apikey]
do:
  - keep:
      set:
        v: ${{ $secrets.apikey }}
        header: ${{ "Bearer " + $secrets.apikey }}
        crafted: ${{ $input.crafted }}
  - pause:
      wait: {wait}
  - send:
      call: http
      with:
        method: get
        endpoint: {base}/ok/send
        headers:
          X-Api-Key: ${{ .v }}
          Authorization: ${{ .header }}
      output:
        as: ${{ {{name}} }}
"""


def rows(store_url: str, instance_id: str) -> str:
    """Every journal and instance row of an instance, as the database holds it."""
    journal = "SELECT data FROM podium_journal WHERE instance_id = {0} ORDER BY seq"
    instance = "SELECT input, output, error FROM podium_instances WHERE id = {0}"
    if store_url.startswith("sqlite"):
        path = store_url.removeprefix("sqlite:///").partition("?")[0]
        with sqlite3.connect(path) as connection:
            found = [*connection.execute(journal.format("?"), (instance_id,)),
                     *connection.execute(instance.format("?"), (instance_id,))]
    else:
        with psycopg.connect(store_url) as connection:
            found = [
                *connection.execute(journal.replace("data", "data::text").format("%s"),
                                    (instance_id,)),
                *connection.execute(
                    instance.replace("input, output, error",
                                     "input::text, output::text, error::text").format("%s"),
                    (instance_id,)),
            ]
    return "\n".join(str(value) for row in found for value in row)


def secret_runtime(store: Store, worker_id: str, secrets: dict[str, Any] | None) -> Runtime:
    return Runtime(store=store, worker_id=worker_id, lease_seconds=1.5, secrets=secrets)


async def run_parked(
    store_url: str, store: Store, counting: CountingServer, *, input: Any = None,
    second_secrets: dict[str, Any] | None = None,
) -> str:
    """Start the reproducer on one worker, which parks it during the wait; resume
    it on another (a new runtime, nothing in memory): return the instance id."""
    definition = load(reproducer(counting.url))
    first_store = open_store(store_url)
    await first_store.open()
    try:
        async with secret_runtime(first_store, "worker-a", {"apikey": KEY}) as first:
            record, _ = await first.create_instance(definition, input or {})
            async with working(first, park_after=0.5):
                await in_status(store, record.id, "waiting", unowned=True)
    finally:
        await first_store.close()
    second_store = open_store(store_url)
    await second_store.open()
    try:
        async with (
            secret_runtime(second_store, "worker-b", second_secrets) as second,
            working(second, park_after=0.5),
        ):
            await ended(store, record.id)
    finally:
        await second_store.close()
    return record.id


async def test_a_parked_instance_replays_the_real_secret_and_stores_none(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    instance_id = await run_parked(store_url, store, counting,
                                   second_secrets={"apikey": KEY})
    record = await store.get_instance(instance_id)
    assert record is not None and record.status == "completed", record
    (hit,) = counting.named("send")
    assert hit.headers["x-api-key"] == KEY
    assert hit.headers["authorization"] == f"Bearer {KEY}"
    stored = rows(store_url, instance_id)
    assert KEY not in stored
    # The outcome of `keep` was journaled with references, not with ***.
    assert MARKER + '[{\\"secret\\":\\"apikey\\",\\"path\\":[]}]' in stored


async def test_a_secret_gone_at_replay_faults_the_task_that_needs_it(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    instance_id = await run_parked(store_url, store, counting, second_secrets={})
    record = await store.get_instance(instance_id)
    assert record is not None and record.status == "faulted"
    assert record.error is not None
    assert (record.error["type"], record.error["status"]) == (AUTHORIZATION, 403)
    assert record.error["instance"] == "/do/0/keep"
    assert "secret 'apikey'" in record.error["detail"]
    assert counting.named("send") == []  # nothing was sent with a wrong key


@pytest.mark.parametrize("crafted", [
    MARKER + '[{"secret":"apikey","path":[]}]',
    MARKER + MARKER + '[{"secret":"apikey","path":[]}]',
    MARKER + "plain",
    MARKER,
])
async def test_input_that_looks_like_a_reference_comes_back_verbatim(
    store_url: str, store: Store, counting: CountingServer, crafted: str
) -> None:
    definition = load(reproducer(counting.url).replace(
        "as: ${ {name} }", "as: '${ {crafted: $input.crafted} }'"
    ))
    async with secret_runtime(store, "worker", {"apikey": KEY}) as runtime:
        record, _ = await runtime.create_instance(definition, {"crafted": crafted})
        async with working(runtime, park_after=0.5):
            await in_status(store, record.id, "waiting", unowned=True)
            done = await ended(store, record.id)
    assert done.status == "completed", done.error
    assert done.output == {"crafted": crafted}
    assert KEY not in rows(store_url, record.id)
    from tests.cli.support import instance

    shown = await asyncio.to_thread(instance, store_url, record.id)
    assert shown["input"] == {"crafted": crafted}  # stored escaped, shown as given


async def test_history_shows_references_as_stars(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    from tests.cli.support import history

    instance_id = await run_parked(store_url, store, counting,
                                   second_secrets={"apikey": KEY})
    timeline = await asyncio.to_thread(history, store_url, instance_id)
    (kept,) = [e for e in timeline if e["kind"] == "task.completed"
               and e["position"] == "/do/0/keep"]
    assert kept["data"]["output"]["v"] == "***"
    assert kept["data"]["output"]["header"] == "Bearer ***"
    assert KEY not in json.dumps(timeline) and MARKER not in json.dumps(timeline)


# --- real processes --------------------------------------------------------------------


@pytest.fixture
def secret_env() -> Iterator[dict[str, str]]:
    """The environment of worker processes: the secret from PODIUM_SECRET_APIKEY."""
    environ = {k: v for k, v in os.environ.items() if k not in ("PODIUM_STORE",)}
    yield {**environ, "PODIUM_SECRETS_ENV_PREFIX": "PODIUM_SECRET_",
           "PODIUM_SECRET_APIKEY": KEY, "NO_COLOR": "1"}


def _spawn(arguments: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, *arguments], cwd=ROOT, env=env, stdout=output,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def test_a_worker_killed_mid_wait_replays_the_real_secret(
    store_url: str, store: Store, counting: CountingServer, secret_env: dict[str, str],
    tmp_path: Path,
) -> None:
    definition = load(reproducer(counting.url, wait="{milliseconds: 2500}", name="killed"))
    async with secret_runtime(store, "creator", None) as creator:
        record, _ = await creator.create_instance(definition, {})
    worker = ["-m", "tests.support.worker_process", "--store", store_url, "--park-after", "60"]
    doomed = _spawn([*worker, "--ready", str(tmp_path / "a.ready")], secret_env,
                    tmp_path / "a.log")
    try:
        await journaled(store, record.id, "timer", "/do/1/pause", within=20)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        survivor = _spawn([*worker, "--ready", str(tmp_path / "b.ready")], secret_env,
                          tmp_path / "b.log")
        try:
            done = await ended(store, record.id, within=20)
        finally:
            _stop(survivor)
    finally:
        _stop(doomed)
    assert done.status == "completed", (done.error, (tmp_path / "b.log").read_text())
    (hit,) = counting.named("send")
    assert hit.headers["x-api-key"] == KEY
    assert KEY not in rows(store_url, record.id)


async def test_podium_start_then_worker_parks_and_replays_the_real_secret(
    store_url: str, store: Store, counting: CountingServer, secret_env: dict[str, str],
    tmp_path: Path,
) -> None:
    # Longer than the CLI worker's 5 s parking threshold: the instance leaves memory.
    path = tmp_path / "reproducer.yaml"
    path.write_text(reproducer(counting.url, wait="PT6S", name="cli"), encoding="utf-8")
    cli = ["-c", "from podium.cli import main; main()"]
    started = await asyncio.to_thread(
        subprocess.run, [sys.executable, *cli, "start", str(path), "--store", store_url],
        capture_output=True, text=True, env=secret_env, cwd=ROOT, timeout=60,
    )
    assert started.returncode == 0, started.stderr
    instance_id = started.stdout.strip()
    log = tmp_path / "worker.log"
    worker = _spawn([*cli, "worker", "--store", store_url], secret_env, log)
    try:
        await in_status(store, instance_id, "waiting", within=20, unowned=True)
        done = await ended(store, instance_id, within=30)
    finally:
        _stop(worker)
    assert done.status == "completed", (done.error, log.read_text())
    assert f"waiting {instance_id}" in log.read_text()  # it did park
    (hit,) = counting.named("send")
    assert hit.headers["x-api-key"] == KEY
    assert KEY not in rows(store_url, instance_id)
    assert KEY not in log.read_text()


async def test_the_replay_is_exact_for_substrings_objects_and_uris(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    definition = load(f"""
document: {{dsl: '1.0.3', namespace: secrets, name: shapes, version: '1.0.0'}}
use:
  secrets: [db]
do:
  - keep:
      set:
        whole: ${{ $secrets.db }}
        dsn: '${{ "postgres://" + $secrets.db.user + ":" + $secrets.db.password + "@h/db" }}'
        uri: '${{ "{counting.url}/ok/uri?p=" + ($secrets.db.password | @uri) }}'
        keyed: '${{ {{($secrets.db.password): 1}} }}'
  - pause: {{wait: {{milliseconds: 1500}}}}
  - send:
      call: http
      with:
        method: get
        endpoint: ${{ .uri }}
        headers:
          X-Dsn: ${{ .dsn }}
          X-Uri: ${{ .uri }}
          X-User: ${{ .whole.user }}
          X-Port: ${{ .whole.port | tostring }}
          X-Key-Name: ${{ .keyed | keys[0] }}
""")
    db = {"user": "app-user", "password": "p@ss word/42", "port": 5432}
    async with secret_runtime(store, "worker", {"db": db}) as runtime:
        record, _ = await runtime.create_instance(definition, {})
        async with working(runtime, park_after=0.5):
            await in_status(store, record.id, "waiting", unowned=True)
            done = await ended(store, record.id)
    assert done.status == "completed", done.error
    (hit,) = counting.named("uri")
    assert hit.headers["x-dsn"] == "postgres://app-user:p@ss word/42@h/db"
    assert hit.headers["x-uri"] == f"{counting.url}/ok/uri?p=p%40ss%20word%2F42"
    assert hit.headers["x-user"] == "app-user"
    assert hit.headers["x-port"] == "5432"
    assert hit.headers["x-key-name"] == "p@ss word/42"
    stored = rows(store_url, record.id)
    for value in ("p@ss word/42", "p%40ss%20word%2F42", "app-user"):
        assert value not in stored


def all_rows(store_url: str) -> str:
    """Every instance and journal row of the store."""
    queries = ["SELECT id, input, output, error FROM podium_instances",
               "SELECT instance_id, data FROM podium_journal"]
    if store_url.startswith("sqlite"):
        path = store_url.removeprefix("sqlite:///").partition("?")[0]
        with sqlite3.connect(path) as connection:
            found = [row for query in queries for row in connection.execute(query)]
    else:
        with psycopg.connect(store_url) as connection:
            found = [row for query in queries
                     for row in connection.execute(query.replace("input, output, error",
                                                                  "input::text, output::text,"
                                                                  " error::text")
                                                   .replace("data", "data::text"))]
    return "\n".join(str(value) for row in found for value in row)


async def test_a_subflow_given_a_secret_stores_and_replays_references(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    child = f"""
document: {{dsl: '1.0.3', namespace: secrets, name: child, version: '1.0.0'}}
do:
  - pause: {{wait: {{milliseconds: 1500}}}}
  - send:
      call: http
      with:
        method: get
        endpoint: {counting.url}/ok/child
        headers: {{X-Api-Key: '${{ $input.key }}'}}
      output: {{as: '${{ {{sent: true, echoed: $input.key}} }}'}}
"""
    parent = """
document: {dsl: '1.0.3', namespace: secrets, name: parent, version: '1.0.0'}
use:
  secrets: [apikey]
do:
  - delegate:
      run:
        workflow:
          namespace: secrets
          name: child
          version: '1.0.0'
          input: {key: '${ $secrets.apikey }'}
"""
    async with secret_runtime(store, "worker", {"apikey": KEY}) as runtime:
        await runtime.deploy(child)
        record, _ = await runtime.create_instance(load(parent), {})
        # The child parks in its wait and is resumed from the store.
        async with working(runtime, park_after=0.5):
            done = await ended(store, record.id, within=20)
    assert done.status == "completed", done.error
    assert done.output == {"sent": True, "echoed": "***"}
    (hit,) = counting.named("child")
    assert hit.headers["x-api-key"] == KEY
    assert KEY not in all_rows(store_url)
