"""Driving a use case the way its README does: the stand-ins in this process
(``use_cases.running``), ``podium worker`` in a subprocess, and ``podium
deploy/start/events publish/instances`` through the CLI. Shared by the
operations use cases (ci-cd-pipeline, incident-remediation, image-processing)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.cli.support import (
    COMMAND,
    environment,
    eventually,
    history,
    instance,
    ok,
    stop,
)
from tests.support.spec import REPO

TERMINAL = ("completed", "faulted", "cancelled")



@contextmanager
def worker(store: str, *options: str, env: dict[str, str] | None = None
           ) -> Iterator[subprocess.Popen[str]]:
    """``podium worker --store STORE OPTIONS...`` in a subprocess, from the
    repository root, stopped (SIGTERM) after the block."""
    process = subprocess.Popen(
        [*COMMAND, "worker", "--store", store, *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        stdin=subprocess.DEVNULL, env=environment(env), cwd=REPO,
    )
    try:
        yield process
    finally:
        stderr = stop(process, timeout=15)
        if process.returncode not in (0, -15):
            print(stderr)


def deploy(store: str, document: Path) -> None:
    ok("deploy", document, "--store", store)


def start(store: str, workflow: str, data: Any) -> str:
    return ok("start", workflow, "--input", json.dumps(data), "--store", store).strip()


def publish(store: str, event: dict[str, Any]) -> str:
    return ok("events", "publish", json.dumps(event), "--store", store).strip()


def ended(store: str, instance_id: str, timeout: float = 40) -> dict[str, Any]:
    """The instance once it has ended."""
    eventually(lambda: instance(store, instance_id)["status"] in TERMINAL, timeout,
               f"instance {instance_id} to end")
    return instance(store, instance_id)


def waiting_at(store: str, instance_id: str, task: str, timeout: float = 40) -> dict[str, Any]:
    """The instance once it listens at ``task`` (its subscription is recorded:
    an event published from now on reaches it)."""
    def listening() -> bool:
        shown = instance(store, instance_id)
        return any(entry["task"] == task for entry in shown.get("waitingFor") or [])

    eventually(listening, timeout, f"instance {instance_id} to listen at {task}")
    return instance(store, instance_id)


def instances_of(store: str, workflow: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        ok("instances", "list", "--json", "--store", store))
    return [item for item in listed
            if f"{item['workflow']['namespace']}/{item['workflow']['name']}" == workflow]


def completed_positions(store: str, instance_id: str) -> list[str]:
    """The positions of the tasks that completed, in history order."""
    return [entry["position"] for entry in history(store, instance_id)
            if entry["kind"] == "task.completed"]


def events_of_type(store: str, event_type: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        ok("events", "list", "--type", event_type, "--json", "--store", store))
    return listed
