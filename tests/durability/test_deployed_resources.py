"""Stored definitions keep their resources (issue 7, item 16): the files a workflow
names by relative ``file://`` URI are read when it is deployed and stored with it
(content-addressed), so a worker in another directory (or on another host) runs
exactly what was deployed, even once the files are gone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from podium.runtime import Runtime
from podium.store import Store, open_store
from tests.durability.helpers import ended
from tests.support.grpc_server import PROTO, GreeterServer

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from podium.cli import main; main()"]

SCHEMA = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
ASYNCAPI = {
    "asyncapi": "3.0.0", "info": {"title": "t", "version": "1"},
    "servers": {"nats": {"host": "127.0.0.1:4222", "protocol": "nats"}},
    "channels": {"greetings": {"address": "podium.test.deployed.greetings"}},
    "operations": {"announce": {"action": "send",
                                "channel": {"$ref": "#/channels/greetings"}}},
}


def flow(grpc_port: int, version: str = "1.0.0") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: deployed, version: '{version}'}}
input:
  schema:
    format: json
    resource: {{endpoint: 'file://schemas/input.json'}}
do:
  - greet:
      call: grpc
      with:
        proto: {{endpoint: 'file://protos/greeter.proto'}}
        service: {{name: podium.test.Greeter, host: 127.0.0.1, port: {grpc_port}}}
        method: SayHello
        arguments: {{name: '${{ .name }}'}}
  - announce:
      call: asyncapi
      with:
        document: {{endpoint: 'file://asyncapi.json'}}
        operation: announce
        message: {{payload: {{greeting: '${{ .message }}'}}}}
      output: {{as: '${{ .payload }}'}}
"""


def protos() -> tuple[str, str]:
    """The test greeter's proto split in two: the service imports its messages."""
    text = PROTO.read_text()
    end = text.index("service Greeter")
    messages = ('syntax = "proto3";\npackage podium.test;\n'
                'import "google/protobuf/timestamp.proto";\n' + text[text.index("enum Mood"):end])
    service = 'syntax = "proto3";\npackage podium.test;\nimport "messages.proto";\n' + text[end:]
    return service, messages


def project(directory: Path, grpc_port: int) -> Path:
    """A workflow and the files it names, laid out beside it."""
    (directory / "schemas").mkdir(parents=True)
    (directory / "protos").mkdir()
    (directory / "schemas" / "input.json").write_text(json.dumps(SCHEMA))
    service, messages = protos()
    (directory / "protos" / "greeter.proto").write_text(service)
    (directory / "protos" / "messages.proto").write_text(messages)
    (directory / "asyncapi.json").write_text(json.dumps(ASYNCAPI))
    path = directory / "flow.yaml"
    path.write_text(flow(grpc_port))
    return path


def podium(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60,
        env=environment(), stdin=subprocess.DEVNULL,
    )


def environment() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "PODIUM_STORE"}
    # The podium package of this checkout, wherever the command runs.
    environ["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + environ.get("PYTHONPATH", "")
    return {**environ, "NO_COLOR": "1"}


def spawn_worker(store_url: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [*CLI, "worker", "--store", store_url], cwd=cwd, stdout=output,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment(),
        )


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


async def test_a_worker_elsewhere_runs_the_resources_as_deployed(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    async with GreeterServer() as server:
        home = tmp_path / "project"
        project(home, server.port)
        deployed = await asyncio.to_thread(podium, "deploy", "flow.yaml", "--store", store_url,
                                           cwd=home)
        assert deployed.returncode == 0, deployed.stderr
        assert deployed.stdout.strip() == "test/deployed:1.0.0 deployed"
        # The files go away: only what the store holds can run now.
        shutil.rmtree(home)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        started = await asyncio.to_thread(podium, "start", "test/deployed", "--input",
                                          '{"name": "Ada"}', "--store", store_url,
                                          cwd=elsewhere)
        assert started.returncode == 0, started.stderr
        instance_id = started.stdout.strip()
        log = tmp_path / "worker.log"
        worker = spawn_worker(store_url, elsewhere, log)
        try:
            done = await ended(store, instance_id, within=30)
        finally:
            stop(worker)
    assert done.status == "completed", (done.error, log.read_text())
    assert done.output == {"greeting": "Hello, Ada!"}
    assert server.calls and server.calls[0][0]["name"] == "Ada"

    record = await store.get_definition("test", "deployed", "1.0.0")
    assert record is not None and record.resources is not None
    service, messages = protos()
    texts = {
        "file://schemas/input.json": json.dumps(SCHEMA),
        "file://protos/greeter.proto": service,
        "file://protos/messages.proto": messages,  # imported by greeter.proto
        "file://asyncapi.json": json.dumps(ASYNCAPI),
    }
    digests = {ref: hashlib.sha256(text.encode()).hexdigest() for ref, text in texts.items()}
    assert record.resources == digests
    assert await store.get_resources(list(digests.values())) == {
        digests[ref]: text for ref, text in texts.items()
    }


async def test_a_schema_refuses_input_after_the_move_too(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "project"
    path = project(home, 1)
    async with Runtime(store=store) as runtime:
        await runtime.deploy(path)
    shutil.rmtree(home)
    other = open_store(store_url)
    await other.open()
    try:
        async with Runtime(store=other) as runtime:
            definition = await runtime.registry.get("test", "deployed", "1.0.0")
            assert definition.resources["file://schemas/input.json"] == json.dumps(SCHEMA)
            execution = await runtime.execute(definition, {"nom": "Ada"})
    finally:
        await other.close()
    assert execution.status == "faulted"
    assert execution.error is not None and execution.error.type.endswith("/validation")
    assert '"name" is a required property' in str(execution.error.detail)


def test_a_missing_resource_is_a_deploy_error_naming_it_and_its_task(
    tmp_path: Path, sqlite: str
) -> None:
    home = tmp_path / "project"
    path = project(home, 1)
    (home / "protos" / "greeter.proto").unlink()
    result = podium("deploy", path, "--store", sqlite, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert (f"{path}:11:17: /do/0/greet/with/proto/endpoint: cannot read resource "
            "'file://protos/greeter.proto': No such file or directory") in result.stderr
    # An import that is missing is named with the proto that imports it.
    (home / "protos" / "greeter.proto").write_text(protos()[0].replace(
        '"messages.proto"', '"missing.proto"'))
    result = podium("deploy", path, "--store", sqlite, cwd=tmp_path)
    assert result.returncode == 2
    assert ("cannot read resource 'file://protos/missing.proto' (imported by "
            "file://protos/greeter.proto): No such file or directory") in result.stderr
    listed = podium("workflows", "list", "--json", "--store", sqlite, cwd=tmp_path)
    assert json.loads(listed.stdout) == []  # nothing was deployed


def test_a_resource_outside_the_workflow_tree_is_refused_at_deploy(
    tmp_path: Path, sqlite: str
) -> None:
    home = tmp_path / "project"
    path = project(home, 1)
    (tmp_path / "secret.json").write_text("{}")
    path.write_text(path.read_text().replace("file://schemas/input.json",
                                             "file://../secret.json"))
    result = podium("deploy", path, "--store", sqlite, cwd=tmp_path)
    assert result.returncode == 2
    assert "/input/schema/resource/endpoint: file " in result.stderr
    assert "is outside the workflow's directory" in result.stderr
    allowed = podium("deploy", path, "--store", sqlite, "--allow-files", tmp_path,
                     cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr


def test_an_edited_resource_under_a_deployed_version_is_a_conflict(
    tmp_path: Path, sqlite: str
) -> None:
    path = project(tmp_path / "project", 1)
    assert podium("deploy", path, "--store", sqlite, cwd=tmp_path).returncode == 0
    again = podium("deploy", path, "--store", sqlite, cwd=tmp_path)
    assert (again.returncode, again.stdout.strip()) == (0, "test/deployed:1.0.0 unchanged")
    proto = tmp_path / "project" / "protos" / "greeter.proto"
    proto.write_text(proto.read_text() + "\n// edited\n")
    edited = podium("deploy", path, "--store", sqlite, cwd=tmp_path)
    assert edited.returncode == 1
    assert ("test/deployed:1.0.0 is already deployed with other content in "
            "file://protos/greeter.proto; deploy it under a new document.version") \
        in edited.stderr


@pytest.fixture
def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'podium.db'}"
