"""Chaos: two workers share PostgreSQL; 40 healthy instances run among poison ones of
every kind issue 7 found, while the workers are killed with SIGKILL at random and
restarted (as a supervisor would). Every healthy instance completes with its output;
every effect reached its service once, or again only after a kill interrupted it;
every poison instance ends faulted with a clear error or quarantined, and never
stops the healthy ones."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium import load
from podium.store import ENDED, Store
from tests.durability.helpers import eventually, runtime_on
from tests.support.counting_server import CountingServer
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = 40
# Killed workers are seen dead at once (same host, pid gone); the lease only has
# to outlast a loaded machine's slow renewals, or a live owner loses instances.
LEASE = "5"

HEALTHY_WORKFLOW = """
document: {dsl: '1.0.3', namespace: chaos, name: healthy, version: '1.0.0'}
do:
  - first:
      call: http
      with: {method: get, endpoint: 'BASE/ok/first?delay=0.3'}
  - pause: {wait: {milliseconds: 400}}
  - second:
      call: http
      with: {method: get, endpoint: 'BASE/ok/second'}
  - done:
      set: {first: '${ $context }', n: '${ $workflow.input.n }'}
      export: {as: '${ . }'}
"""

POISON = {
    "runaway": "set: {v: '${ until(false; .) }'}",
    "libjq-abort": "set: {v: '${ def f: 1 + f; f }'}",
    "deep-data": "set: {v: '${ reduce range(3000) as $i (null; [.]) }'}",
    "duration-overflow": (
        "timeout: {after: '${ \"P99999999999999D\" }'}\n      wait: {milliseconds: 10}"
    ),
    # Stops its worker every time it runs: only quarantine ends it.
    "kills-its-worker": "run: {shell: {command: 'kill -9 $PPID'}}",
}


def poison_workflow(name: str, task: str) -> str:
    return (
        f"document: {{dsl: '1.0.3', namespace: chaos, name: {name}, version: '1.0.0'}}\n"
        f"do:\n  - poison:\n      {task}\n"
    )


class Supervisor:
    """Keeps two worker processes (tests.support.worker_process) alive: a killed one
    is restarted, as systemd or Kubernetes would."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.processes: list[subprocess.Popen[bytes]] = []
        # When each worker died (killed by the test, or by the poison that kills
        # its worker), seen by a thread waiting on it: exact to the millisecond.
        self.deaths: list[float] = []

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.processes)
        log = (self.directory / f"worker-{number}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_process", "--store", self.url,
             "--ready", str(self.directory / f"worker-{number}.ready"), "--lease", LEASE,
             "--concurrency", "16"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PODIUM_ALLOW_RUN": "shell"},
        )
        log.close()
        self.processes.append(process)

        def watch() -> None:
            process.wait()
            self.deaths.append(time.time())

        threading.Thread(target=watch, daemon=True).start()
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def keep_two(self) -> None:
        for _ in range(2 - len(self.alive())):
            self.start()

    def kill_one(self, chance: random.Random) -> None:
        alive = self.alive()
        if alive:
            victim = chance.choice(alive)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)

    def close(self) -> None:
        for process in self.alive():
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.directory.glob("worker-*.log"))
        )


@pytest.fixture
def supervisor(postgres: PostgresServer, tmp_path: Path) -> Iterator[Supervisor]:
    found = Supervisor(postgres.create_database(), tmp_path)
    yield found
    found.close()


@pytest.mark.timeout(240)
async def test_healthy_instances_survive_poison_and_kill_9(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    chance = random.Random(7)
    with CountingServer() as counting:
        healthy = load(HEALTHY_WORKFLOW.replace("BASE", counting.url))
        async with runtime_on(supervisor.url, "chaos-test") as runtime:
            store = runtime._store()
            healthy_ids = [
                (await runtime.create_instance(healthy, {"n": n}))[0].id for n in range(HEALTHY)
            ]
            poison_ids = {
                name: (await runtime.create_instance(load(poison_workflow(name, task)), {}))[0].id
                for name, task in POISON.items()
            }
            supervisor.keep_two()
            ended = await _chaos(supervisor, store, [*healthy_ids, *poison_ids.values()], chance)
        assert all(ended[i].status == "completed" for i in healthy_ids), supervisor.logs()
        for n, instance_id in enumerate(healthy_ids):
            record = ended[instance_id]
            assert record.output["n"] == n
            for position, name in (("/do/0/first", "first"), ("/do/2/second", "second")):
                key = f"{instance_id}:{position}"
                hits = [h for h in counting.named(name) if h.key == key]
                assert hits, f"{key} never reached the service"
                # A repeat only ever follows a worker's death that interrupted the
                # call before.
                for before, after in itertools.pairwise(hits):
                    assert any(before.received_at <= k <= after.received_at
                               for k in supervisor.deaths), f"{key} repeated, no worker died"
        for name, instance_id in poison_ids.items():
            record = ended[instance_id]
            assert record.status == "faulted", (name, record)
            assert record.error is not None and record.error["detail"], (name, record)
        quarantined = ended[poison_ids["kills-its-worker"]]
        assert quarantined.error is not None
        assert "quarantined" in str(quarantined.error["detail"]).lower()


async def _chaos(supervisor: Supervisor, store: Store, ids: list[str],
                 chance: random.Random) -> dict[str, object]:
    """Kill a worker every 3-6 s for a while, restarting it; then let them finish.
    (Each kill stops every instance its worker held; one that runs alone after
    crashing before, and is killed again before it can progress, counts that
    crash too: a kill every second or two would quarantine healthy instances, as
    a worker crashing that often would in production.)"""
    stop_killing = time.monotonic() + 24
    while time.monotonic() < stop_killing:
        await asyncio.sleep(chance.uniform(3.0, 6.0))
        supervisor.kill_one(chance)
        supervisor.keep_two()

    async def all_ended() -> dict[str, object] | None:
        supervisor.keep_two()  # the poison that kills its worker keeps doing so
        records = {i: await store.get_instance(i) for i in ids}
        if all(r is not None and r.status in ENDED for r in records.values()):
            return records  # type: ignore[return-value]
        return None

    return await eventually(all_ended, within=150, interval=0.5)
