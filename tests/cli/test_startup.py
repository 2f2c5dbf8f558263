"""The CLI starts without importing what the command at hand does not use
(issue 10: `podium --version` and `podium validate` start in 0.3 s). Times are
for the benchmarks (bench/README.md, "CLI start-up"); these tests check the
modules loaded, which is what makes a start slow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from podium.guards import GC_YOUNG_THRESHOLD
from tests.support.spec import REPO

# Loaded only by the commands that need them: the runtime and the stores, the
# HTTP server, telemetry, and every protocol client.
HEAVY = (
    "podium.runtime", "podium.engine", "podium.store", "podium.server", "podium.worker",
    "podium.calls", "podium.telemetry",
    "grpc", "mcp", "psycopg", "psycopg_pool", "nats", "aio_pika", "aiomqtt", "httpx",
    "fastapi", "starlette", "uvicorn", "jinja2", "opentelemetry", "prometheus_client",
    "cloudevents",
)

PROBE = """
import json, sys
from podium.cli import main
sys.argv = ["podium", *{args!r}]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``podium ARGS``."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(name for name in modules
                  if any(name == root or name.startswith(root + ".") for root in HEAVY))


def test_importing_the_cli_loads_no_command_module() -> None:
    done = subprocess.run(
        [sys.executable, "-c",
         "import json, sys, podium.cli; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=True)
    modules = set(json.loads(done.stdout))
    assert heavy(modules) == []
    assert not {"podium.dsl", "pydantic"} & modules  # not even the DSL models


def test_version_loads_nothing_heavy() -> None:
    modules = loaded_by("--version")
    assert heavy(modules) == []
    assert "podium.dsl" not in modules


def test_validate_loads_the_dsl_and_nothing_of_the_runtime() -> None:
    modules = loaded_by("validate", str(REPO / "examples" / "hello.yaml"))
    assert "podium.dsl.model" in modules  # it did validate
    assert heavy(modules) == []


@pytest.mark.parametrize("command", ["run", "instances", "serve"])
def test_a_command_loads_its_own_module_only(command: str) -> None:
    modules = loaded_by(command, "--help")
    assert f"podium.cli._{command}" in modules
    others = {"podium.cli._run", "podium.cli._instances", "podium.cli._serve"}
    assert others & modules == {f"podium.cli._{command}"}


def test_a_command_that_runs_instances_tunes_the_garbage_collector(tmp_path: Path) -> None:
    """Once started, `podium run --store` (like worker and serve: the same session)
    leaves what start-up loaded out of later collections and collects young
    objects less often (podium.guards.tune_garbage_collector; bench/README.md)."""
    probe = (
        "import gc, json, sys\n"
        "from podium.cli import main\n"
        f"sys.argv = ['podium', 'run', {str(REPO / 'examples' / 'hello.yaml')!r},"
        " '--input', '{\"name\": \"Ada\"}',"
        f" '--store', 'sqlite:///{tmp_path / 'podium.db'}']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps([gc.get_threshold()[0], gc.get_freeze_count()]), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert json.loads(done.stdout) == {"greeting": "Hello, Ada!"}
    threshold, frozen = json.loads(done.stderr.strip().splitlines()[-1])
    assert threshold == GC_YOUNG_THRESHOLD
    assert frozen > 10_000  # the modules and models start-up loaded
