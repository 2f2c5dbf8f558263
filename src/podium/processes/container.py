"""`run: container` (dsl-reference "Container Process", "Container Lifetime"),
through the podman or docker command line: the one the operator names
(``PODIUM_CONTAINER_ENGINE``, a path or a name on PATH), else podman, else
docker, from PATH.

``ENGINE run`` stays attached: the task's process is the engine's CLI, so
stdin, stdout, stderr and the exit code are the container's. Choices:

- ``command`` is a shell script run by the image's ``/bin/sh`` (the spec's
  example reads ``$1 $2`` and stdin with ``$(cat)``): ``--entrypoint /bin/sh
  IMAGE -c COMMAND podium ARG...``. Without ``command``, the arguments go to
  the image's default entrypoint/CMD.
- ``ports`` map host port -> container port (``-p HOST:CONTAINER``);
  ``volumes`` map host path -> container path (``-v HOST:CONTAINER``).
- ``environment`` values reach the engine's CLI through its environment and
  are named only (``--env NAME``), so they never show in a process listing
  (except variables the CLI needs itself, ``PATH``, ``DOCKER_HOST``...).
- ``name`` defaults to the spec's convention
  ``{workflow.name}-{uuid}.{workflow.namespace}-{task.name}``.
- ``lifetime`` (default ``never``, as the spec says): ``always`` runs with
  ``--rm``; ``eventually`` removes the container ``after`` the duration, from a
  timer of this process (a restart forgets it: the container stays).
- ``pullPolicy`` (default ``ifNotPresent``): ``--pull=missing|always|never``.

A cancelled or timed-out task kills the container (``ENGINE kill NAME``) as
well as the CLI's process group.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.processes import _process

ENGINES = ("podman", "docker")
PULL = {"ifNotPresent": "missing", "always": "always", "never": "never"}
# What the engine's CLI needs from Podium's environment to reach its daemon.
ENGINE_VARIABLES = re.compile(r"^(DOCKER_|CONTAINER_|CONTAINERS_|PODMAN_|XDG_RUNTIME_DIR$)")
INFO_TIMEOUT = 15.0

# Engines that answered `info`: asked once per process.
_working: set[str] = set()


@dataclass(frozen=True)
class Container:
    """A container process with its expressions evaluated."""

    image: str
    name: str
    command: str | None = None
    arguments: list[str] = field(default_factory=list)
    ports: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    stdin: bool = False
    cleanup: str = "never"
    pull: str = "ifNotPresent"


def command_line(engine: str, container: Container) -> list[str]:
    """The ``ENGINE run ...`` argv for ``container``."""
    argv = [engine, "run", "--name", container.name, f"--pull={PULL[container.pull]}"]
    if container.stdin:
        argv.append("--interactive")
    if container.cleanup == "always":
        argv.append("--rm")
    for host, inside in container.ports.items():
        argv += ["--publish", f"{host}:{inside}"]
    for host, inside in container.volumes.items():
        argv += ["--volume", f"{host}:{inside}"]
    for name, value in container.environment.items():
        argv += ["--env", f"{name}={value}" if _inline(name) else name]
    if container.command is not None:
        return [*argv, "--entrypoint", "/bin/sh", container.image,
                "-c", container.command, "podium", *container.arguments]
    return [*argv, container.image, *container.arguments]


def _inline(name: str) -> bool:
    """A variable the CLI itself needs: its container value goes on the command line."""
    return name in _process.SAFE_VARIABLES or ENGINE_VARIABLES.match(name) is not None


def default_name(run: TaskRun) -> str:
    """``{workflow.name}-{uuid}.{workflow.namespace}-{task.name}`` (the spec's
    recommended convention), cut to characters container names accept."""
    document = run.instance.definition.model.document
    text = f"{document.name}-{uuid.uuid4()}.{document.namespace}-{run.name}"
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", text)


async def engine(run: TaskRun) -> str:
    """The path of a working engine CLI, or a configuration error saying why not."""
    chosen = run.instance.services.settings.container_engine
    if chosen is not None:
        path = shutil.which(chosen)
        if path is None:
            raise WorkflowError.configuration(
                f"run: container needs the container engine '{chosen}' "
                "(PODIUM_CONTAINER_ENGINE), which is not an executable on this runtime",
                run.reference,
            )
        found = [path]
    else:
        found = [path for path in map(shutil.which, ENGINES) if path is not None]
    if not found:
        raise WorkflowError.configuration(
            "run: container needs a container engine: neither podman nor docker is on "
            "this runtime's PATH", run.reference,
        )
    problems = []
    for path in found:
        if path in _working:
            return path
        try:
            process = await asyncio.create_subprocess_exec(
                path, "info", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=engine_environment({}),
                start_new_session=True,
            )
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
            continue
        try:
            _, err = await asyncio.wait_for(process.communicate(), INFO_TIMEOUT)
        except TimeoutError:
            await _process.terminate(process)
            problems.append(f"{path} info did not answer in {INFO_TIMEOUT:g}s")
            continue
        except BaseException:
            await _process.terminate(process)
            raise
        if process.returncode == 0:
            _working.add(path)
            return path
        message = " ".join(err.decode("utf-8", errors="replace").split())[:300]
        problems.append(f"`{os.path.basename(path)} info` failed: {message}")
    raise WorkflowError.configuration(
        "run: container needs a working container engine (podman or docker): "
        + "; ".join(problems), run.reference,
    )


def engine_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The CLI's environment: the safe minimum, what reaches the engine's daemon,
    and the container's variables (named on the command line by ``--env``)."""
    env = {name: os.environ[name] for name in _process.SAFE_VARIABLES if name in os.environ}
    env.setdefault("PATH", _process.DEFAULT_PATH)
    env.update({name: value for name, value in os.environ.items()
                if ENGINE_VARIABLES.match(name)})
    env.update({name: value for name, value in environment.items() if not _inline(name)})
    return env


async def evaluate(process: m.ContainerProcess, run: TaskRun) -> Container:
    name = await run.template(process.name) if process.name is not None else default_name(run)
    lifetime = process.lifetime
    return Container(
        image=_process.as_text(await run.template(process.image)),
        name=_process.as_text(name),
        command=None if process.command is None
        else _process.as_text(await run.template(process.command)),
        arguments=await _process.arguments(process.arguments, run),
        ports=await _pairs(process.ports, run),
        volumes=await _pairs(process.volumes, run),
        environment=await _pairs(process.environment, run),
        stdin=process.stdin is not None,
        cleanup=lifetime.cleanup if lifetime is not None else "never",
        pull=process.pull_policy or "ifNotPresent",
    )


async def _pairs(mapping: dict[str, Any] | None, run: TaskRun) -> dict[str, str]:
    if not mapping:
        return {}
    values = await run.template(dict(mapping))
    return {str(key): _process.as_text(value) for key, value in values.items()}


async def execute_container(config: m.RunConfig, run: TaskRun) -> Any:
    process = config.container
    assert process is not None
    _process.require_allowed("container", run)
    container = await evaluate(process, run)
    path = await engine(run)
    argv = command_line(path, container)
    env = engine_environment(container.environment)
    stdin = await _process.stdin(process.stdin, run)
    what = f"container {container.name} ({container.image})"
    after = None
    lifetime = process.lifetime
    if lifetime is not None and lifetime.cleanup == "eventually" and lifetime.after is not None:
        where = run.reference + "/run/container/lifetime/after"
        delay = await runner.duration_seconds(lifetime.after, run, run.instance, where,
                                              "lifetime.after")
        after = _remove_later(path, container.name, delay, env)
    if not config.await_:
        return await _process.execute(
            argv, env=env, stdin=stdin, awaited=False, return_=config.return_, what=what,
            run=run, after=after,
        )
    try:
        return await _process.execute(
            argv, env=env, stdin=stdin, awaited=True, return_=config.return_, what=what,
            run=run,
        )
    except asyncio.CancelledError:
        # Killing the CLI does not stop a container: the engine does.
        _background([path, "kill", container.name], env)
        raise
    finally:
        if after is not None:
            after()


def _remove_later(
    path: str, name: str, delay: float, env: Mapping[str, str]
) -> Callable[[], None]:
    def start() -> None:
        timer = threading.Timer(delay, _background, args=([path, "rm", "--force", name], env))
        timer.daemon = True
        timer.start()
    return start


def _background(argv: list[str], env: Mapping[str, str]) -> None:
    """Run an engine housekeeping command, reaped by a daemon thread."""
    def call() -> None:
        subprocess.run(argv, env=dict(env), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       start_new_session=True, check=False)
    threading.Thread(target=call, name="podium-container", daemon=True).start()
