"""``--lifecycle-sink URL`` (repeatable) and ``PODIUM_LIFECYCLE_SINK`` (comma-separated)
on the commands that run instances: ``podium run`` and ``podium worker``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.cli.support import invoke, spawn, workflow
from tests.support.event_collector import EventCollector

TASKS = """\
  - greet:
      set: {greeting: hello}
"""


def test_run_sends_every_lifecycle_event_to_the_sink(tmp_path: Path) -> None:
    with EventCollector() as collector:
        code, stdout, stderr = invoke("run", workflow(tmp_path, "greet", TASKS),
                                      "--lifecycle-sink", collector.url)
        assert (code, json.loads(stdout)) == (0, {"greeting": "hello"}), stderr
        types = [event["type"].removeprefix("io.serverlessworkflow.")
                 for event in collector.wait_for(10)]
    assert types == [
        "workflow.started.v1", "workflow.status-changed.v1",
        "task.created.v1", "task.status-changed.v1",
        "task.started.v1", "task.status-changed.v1",
        "task.completed.v1", "task.status-changed.v1",
        "workflow.completed.v1", "workflow.status-changed.v1",
    ]


def test_the_option_repeats_and_overrides_the_environment(tmp_path: Path) -> None:
    with EventCollector() as one, EventCollector() as two, EventCollector() as env:
        code, _, stderr = invoke(
            "run", workflow(tmp_path, "greet", TASKS),
            "--lifecycle-sink", one.url, "--lifecycle-sink", two.url,
            env={"PODIUM_LIFECYCLE_SINK": env.url},
        )
        assert code == 0, stderr
        assert one.wait_for(10) == two.wait_for(10)
        assert env.received == []


def test_the_environment_takes_a_comma_separated_list(tmp_path: Path) -> None:
    with EventCollector() as one, EventCollector() as two:
        code, _, stderr = invoke("run", workflow(tmp_path, "greet", TASKS),
                                 env={"PODIUM_LIFECYCLE_SINK": f"{one.url},{two.url}"})
        assert code == 0, stderr
        assert len(one.wait_for(10)) == len(two.wait_for(10)) == 10


def test_a_sink_that_is_down_warns_and_the_run_succeeds(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, stdout, stderr = invoke("run", workflow(tmp_path, "greet", TASKS),
                                  "--lifecycle-sink", f"http://127.0.0.1:{port}/events")
    assert (code, json.loads(stdout)) == (0, {"greeting": "hello"})
    assert f"warning: lifecycle sink http://127.0.0.1:{port}/events is unreachable" in stderr


def test_a_bad_sink_is_a_usage_error(tmp_path: Path) -> None:
    path = workflow(tmp_path, "greet", TASKS)
    code, _, stderr = invoke("run", path, "--lifecycle-sink", "ftp://host/x")
    assert code == 2
    assert "--lifecycle-sink: 'ftp://host/x' is not a lifecycle sink" in stderr
    code, _, stderr = invoke("run", path, env={"PODIUM_LIFECYCLE_SINK": "kafka://b:9092"})
    assert code == 2
    assert "PODIUM_LIFECYCLE_SINK: 'kafka://b:9092' is not a lifecycle sink" in stderr
    code, _, stderr = invoke("worker", "--store", f"sqlite:///{tmp_path / 'p.db'}",
                             "--lifecycle-sink", "nats://host:4222/a b")
    assert code == 2
    assert "--lifecycle-sink: nats subject prefix 'a b'" in stderr


def test_worker_sends_the_events_of_the_instances_it_runs(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    code, instance_id, stderr = invoke("start", workflow(tmp_path, "greet", TASKS),
                                       "--store", store)
    assert code == 0, stderr
    with EventCollector() as collector:
        worker = spawn("worker", "--store", store, "--lifecycle-sink", collector.url)
        try:
            events = collector.wait_for(10, within=30)
        finally:
            worker.terminate()
            worker.communicate(timeout=10)
    assert {event["subject"] for event in events} == {f"greet-{instance_id.strip()}.test"}
    assert events[-1]["data"]["status"] == "completed"
