"""`run: container`: the engine command line, the configuration errors when no
engine works, and real containers.

The engine is always explicit (tests/support/containers.py): absent (a path
that does not exist), a stand-in CLI written here (a script, not a mock of
Podium's code) for what a real engine cannot show, or podman running a local
busybox image, with `pullPolicy: never`."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from podium.engine.errors import AUTHORIZATION, CONFIGURATION, RUNTIME, TIMEOUT
from podium.processes.container import Container, command_line
from tests.support.containers import GREETING, Engine

ALLOWED = Settings(allow_run=frozenset({"container"}))

# Real containers share one podman: their tests run in one test process, so that
# one test's clean-up never removes another's container (pyproject: loadgroup).
pytestmark = pytest.mark.xdist_group("containers")


def using(engine: str | Path) -> Settings:
    return Settings(allow_run=frozenset({"container"}), container_engine=str(engine))


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


async def test_an_absent_engine_is_a_configuration_error(absent_container_engine: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"), settings=using(absent_container_engine))
    error = caught.value
    assert (error.type, error.instance) == (CONFIGURATION, "/do/0/runContainer")
    assert f"'{absent_container_engine}' (PODIUM_CONTAINER_ENGINE)" in (error.detail or "")


async def test_no_engine_on_path_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Without PODIUM_CONTAINER_ENGINE the runtime looks for podman, then docker.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"))
    error = caught.value
    assert (error.type, error.instance) == (CONFIGURATION, "/do/0/runContainer")
    assert "podman" in (error.detail or "") and "docker" in (error.detail or "")


async def test_an_engine_that_fails_is_a_configuration_error(tmp_path: Path) -> None:
    engine = fake_engine(tmp_path / "bin", "docker", info_code=1)
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"), settings=using(engine))
    error = caught.value
    assert error.type == CONFIGURATION
    assert "`docker info` failed: Cannot connect to the daemon" in (error.detail or "")


async def test_the_engine_is_found_on_path_when_none_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_engine(tmp_path / "bin", "docker")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = json.loads(await run(container("image: alpine")))
    assert out["argv"][:2] == ["run", "--name"]


async def test_refused_unless_the_operator_allows_it() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(container("image: alpine"), settings=Settings())
    assert (caught.value.type, caught.value.status) == (AUTHORIZATION, 403)
    assert "--allow-run container" in (caught.value.detail or "")


async def test_the_engine_runs_the_container_with_evaluated_values(tmp_path: Path) -> None:
    engine = fake_engine(tmp_path / "bin", "podman")
    out = json.loads(await run(container("""
image: alpine
name: '${ "job-" + .id }'
command: 'cat'
stdin: '${ .message }'
arguments: ['${ .id }']
environment: {GREETING: '${ .message }'}
pullPolicy: never
lifetime: {cleanup: always}
"""), {"id": "7", "message": "hello"}, using(engine)))
    assert out["argv"] == [
        "run", "--name", "job-7", "--pull=never", "--interactive", "--rm",
        "--env", "GREETING", "--entrypoint", "/bin/sh", "alpine", "-c", "cat", "podium", "7",
    ]
    assert out["greeting"] == "hello"  # through the CLI's environment, not its argv
    assert out["stdin"] == "hello"


async def test_the_default_name_follows_the_spec_convention(tmp_path: Path) -> None:
    engine = fake_engine(tmp_path / "bin", "docker")
    out = json.loads(await run(container("image: alpine"), settings=using(engine)))
    name = out["argv"][2]
    assert name.startswith("boxed-") and name.endswith(".test-runContainer")


# Real containers: podman, runc and a local busybox image ------------------------------


def real(engine: Engine, body: str, extra: str = "", name: str | None = None) -> str:
    """A workflow running ``body`` in the test image, never pulling."""
    named = f"name: {name}\n" if name else ""
    return container(f"image: {engine.image}\npullPolicy: never\n{named}{body}", extra)


def unique(what: str) -> str:
    return f"podium-test-{what}-{uuid.uuid4().hex[:8]}"


def status_of(engine: Engine, name: str) -> str | None:
    """``running``, ``exited``, ... or None once the container is gone."""
    found = engine("container", "inspect", "--format", "{{.State.Status}}", name)
    return found.stdout.strip() if found.returncode == 0 else None


async def until(check: Any, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not reached within {within}s"
        await asyncio.sleep(0.2)


async def test_a_container_runs_its_command_with_arguments(container_engine: Engine) -> None:
    document = real(container_engine, """
command: 'echo "hello $1 and $2"'
arguments: [World, '${ .who }']
lifetime: {cleanup: always}
""")
    output = await run(document, {"who": "Ada"}, using(container_engine.path))
    assert output == "hello World and Ada"


async def test_without_a_command_the_image_runs_its_own(container_engine: Engine) -> None:
    document = real(container_engine, "lifetime: {cleanup: always}")
    assert await run(document, settings=using(container_engine.path)) == GREETING


async def test_the_container_gets_its_environment_and_stdin(container_engine: Engine) -> None:
    document = real(container_engine, """
command: |
  input=$(cat)
  echo "STDIN was: $input"
  echo "GREETING is $GREETING"
stdin: '${ .message }'
environment: {GREETING: '${ .greeting }'}
lifetime: {cleanup: always}
""")
    output = await run(document, {"message": "Hello World", "greeting": "bonjour"},
                       using(container_engine.path))
    assert output == "STDIN was: Hello World\nGREETING is bonjour"


async def test_a_failing_container_faults_with_its_code_and_stderr(
    container_engine: Engine,
) -> None:
    document = real(container_engine, """
command: 'echo "disk full" >&2; exit 3'
lifetime: {cleanup: always}
""")
    with pytest.raises(WorkflowError) as caught:
        await run(document, settings=using(container_engine.path))
    assert caught.value.type == RUNTIME
    assert "exited with code 3: disk full" in (caught.value.detail or "")
    # With `return: code` the code is the result, not a fault.
    coded = real(container_engine, "command: 'exit 3'\nlifetime: {cleanup: always}",
                 extra="return: code")
    assert await run(coded, settings=using(container_engine.path)) == 3


async def test_a_timeout_kills_the_container(container_engine: Engine) -> None:
    name = unique("timeout")
    document = real(container_engine, "command: 'sleep 60'", name=name).replace(
        "      run:\n", "      timeout:\n        after: {seconds: 2}\n      run:\n"
    )
    with pytest.raises(WorkflowError) as caught:
        await run(document, settings=using(container_engine.path))
    assert caught.value.type == TIMEOUT, caught.value
    await until(lambda: status_of(container_engine, name) != "running")


async def test_a_container_not_awaited_runs_on_its_own(container_engine: Engine) -> None:
    name = unique("detached")
    document = real(container_engine, "command: 'sleep 30'", name=name, extra="await: false")
    output = await run(document, {"kept": True}, using(container_engine.path))
    assert output == {"kept": True}  # at once: the task's input
    await until(lambda: status_of(container_engine, name) == "running")


@pytest.mark.parametrize(("cleanup", "left"), [("always", None), ("never", "exited")])
async def test_the_lifetime_decides_whether_the_container_stays(
    container_engine: Engine, cleanup: str, left: str | None
) -> None:
    name = unique(cleanup)
    document = real(container_engine, f"command: 'echo done'\nlifetime: {{cleanup: {cleanup}}}",
                    name=name)
    assert await run(document, settings=using(container_engine.path)) == "done"
    assert status_of(container_engine, name) == left


def test_the_fixture_removes_the_containers_a_test_started(podman: Engine) -> None:
    # What `container_engine` does after each test, checked on one container.
    name = unique("left")
    before = set(podman.containers())
    assert podman("run", "--name", name, "--pull", "never", podman.image, "true").returncode == 0
    assert status_of(podman, name) == "exited"
    podman.remove([key for key in podman.containers() if key not in before])
    assert status_of(podman, name) is None
