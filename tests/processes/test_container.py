"""`run: container`: the engine command line, and the configuration errors when
no engine works. Real containers need a daemon; these tests use stand-in
engine CLIs on ``PATH`` instead (scripts, not mocks of Podium's code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from podium.engine.errors import AUTHORIZATION, CONFIGURATION
from podium.processes.container import Container, command_line

ALLOWED = Settings(allow_run=frozenset({"container"}))


def container(body: str, extra: str = "") -> str:
    indented = "\n".join("          " + line for line in body.strip("\n").splitlines())
    tail = "\n".join("        " + line for line in extra.strip().splitlines())
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: boxed, version: '0.1.0'}}
do:
  - runContainer:
      run:
        container:
{indented}
{tail}
"""


async def run(document: str, data: Any = None, settings: Settings = ALLOWED) -> Any:
    async with Runtime(settings=settings) as runtime:
        return await runtime.run(document, data)


def fake_engine(folder: Path, name: str, info_code: int = 0) -> Path:
    """An engine CLI whose `info` exits ``info_code`` and whose `run` prints its
    argv and its GREETING variable as JSON (and echoes stdin)."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"""#!{sys.executable}
import json, os, sys
if sys.argv[1] == "info":
    print("Cannot connect to the daemon", file=sys.stderr)
    sys.exit({info_code})
stdin = sys.stdin.read() if "--interactive" in sys.argv else None
print(json.dumps({{"argv": sys.argv[1:], "greeting": os.environ.get("GREETING"),
                  "stdin": stdin}}))
""", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_command_line_with_everything() -> None:
    argv = command_line("/usr/bin/podman", Container(
        image="alpine", name="c1", command='echo "$1"', arguments=["Foo", "Bar"],
        ports={"8080": "80"}, volumes={"/data": "/mnt/data"},
        environment={"GREETING": "hi", "PATH": "/opt/bin"}, stdin=True,
        cleanup="always", pull="always",
    ))
    assert argv == [
        "/usr/bin/podman", "run", "--name", "c1", "--pull=always", "--interactive", "--rm",
        "--publish", "8080:80", "--volume", "/data:/mnt/data",
        "--env", "GREETING", "--env", "PATH=/opt/bin",
        "--entrypoint", "/bin/sh", "alpine", "-c", 'echo "$1"', "podium", "Foo", "Bar",
    ]


@pytest.mark.parametrize(
    ("cleanup", "pull", "flags"),
    [
        ("never", "ifNotPresent", ["--pull=missing"]),
        ("eventually", "never", ["--pull=never"]),
        ("always", "ifNotPresent", ["--pull=missing", "--rm"]),
    ],
)
def test_command_line_without_a_command_passes_arguments_to_the_image(
    cleanup: str, pull: str, flags: list[str]
) -> None:
    argv = command_line("docker", Container(
        image="hello-world", name="c2", arguments=["--verbose"], cleanup=cleanup, pull=pull
    ))
    assert argv == ["docker", "run", "--name", "c2", *flags, "hello-world", "--verbose"]


async def test_no_engine_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"))
    error = caught.value
    assert (error.type, error.instance) == (CONFIGURATION, "/do/0/runContainer")
    assert "podman" in (error.detail or "") and "docker" in (error.detail or "")


async def test_an_engine_that_fails_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_engine(tmp_path / "bin", "docker", info_code=1)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"))
    error = caught.value
    assert error.type == CONFIGURATION
    assert "`docker info` failed: Cannot connect to the daemon" in (error.detail or "")


def _docker_daemon_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
async def test_the_docker_cli_without_a_daemon_is_a_configuration_error() -> None:
    if _docker_daemon_answers():
        pytest.skip("a docker daemon answers here")
    if shutil.which("podman") is not None:
        pytest.skip("podman is tried first")
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"))
    assert caught.value.type == CONFIGURATION
    assert "docker" in (caught.value.detail or "")


async def test_refused_unless_the_operator_allows_it() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"), settings=Settings())
    assert (caught.value.type, caught.value.status) == (AUTHORIZATION, 403)
    assert "--allow-run container" in (caught.value.detail or "")


async def test_the_engine_runs_the_container_with_evaluated_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_engine(tmp_path / "bin", "podman")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = json.loads(await run(container("""
image: alpine
name: '${ "job-" + .id }'
command: 'cat'
stdin: '${ .message }'
arguments: ['${ .id }']
environment: {GREETING: '${ .message }'}
pullPolicy: never
lifetime: {cleanup: always}
"""), {"id": "7", "message": "hello"}))
    assert out["argv"] == [
        "run", "--name", "job-7", "--pull=never", "--interactive", "--rm",
        "--env", "GREETING", "--entrypoint", "/bin/sh", "alpine", "-c", "cat", "podium", "7",
    ]
    assert out["greeting"] == "hello"  # through the CLI's environment, not its argv
    assert out["stdin"] == "hello"


async def test_the_default_name_follows_the_spec_convention(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_engine(tmp_path / "bin", "docker")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = json.loads(await run(container("image: alpine")))
    name = out["argv"][2]
    assert name.startswith("boxed-") and name.endswith(".test-runContainer")
