"""``/metrics`` as Prometheus reads it: from ``podium serve``'s app (the API's
tokens: a viewer's is enough, none needed when none are configured) and from
``podium worker --metrics-port`` as a real process, which also logs JSON lines."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx

from tests.cli.support import EXAMPLES, eventually, invoke, ok, serving, spawn, status_is, stop
from tests.server.conftest import GREET, OPERATOR, TOKENS, VIEWER, auth, client_for
from tests.support.nats_server import free_port
from tests.telemetry.conftest import Scraped, labels

METRICS = "http://testserver/metrics"


async def test_metrics_need_a_token_when_tokens_are_configured(store_url: str) -> None:
    async for api in client_for(store_url, tokens=TOKENS):
        refused = await api.get(METRICS)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"].startswith("a bearer token is required")
        assert (await api.get(METRICS, headers=auth("not-a-token"))).status_code == 401
        for token in (VIEWER, OPERATOR):
            read = await api.get(METRICS, headers=auth(token))
            assert read.status_code == 200
            assert read.headers["content-type"].startswith("text/plain; version=")


async def test_metrics_are_open_without_tokens_and_count_what_the_api_started(
    store_url: str,
) -> None:
    async for api in client_for(store_url):
        assert (await api.post("/definitions", content=GREET)).status_code == 201
        for _ in range(2):
            assert (await api.post("/instances", json={"workflow": "test/greet"})
                    ).status_code == 201
        scraped = Scraped((await api.get(METRICS)).text)
    # No worker runs in this app: both wait, pending.
    assert scraped.series("podium_instances") == {
        labels(status="pending"): 2, labels(status="running"): 0,
        labels(status="waiting"): 0, labels(status="suspended"): 0,
    }
    assert scraped.value("podium_engine_errors_total", kind="store") == 0


def test_a_worker_serves_metrics_and_logs_json_lines(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    hello = ok("start", EXAMPLES / "hello.yaml", "--input", '{"name": "Ada"}',
               "--store", store).strip()
    fault = ok("start", EXAMPLES / "fault.yaml", "--input", '{"amount": -1}',
               "--store", store).strip()
    port = free_port()
    worker = spawn("worker", "--store", store, "--metrics-port", str(port),
                   "--log-format", "json")
    try:
        eventually(status_is(store, hello, "completed"), what="hello to complete")
        eventually(status_is(store, fault, "faulted"), what="fault to fault")

        def scrape() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except httpx.TransportError:
                return None

        response = eventually(scrape, what="the metrics to answer")
        assert response.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=2).status_code == 404
    finally:
        stderr = stop(worker)
    assert worker.returncode == 0, stderr
    scraped = Scraped(response.text)
    assert scraped.series("podium_workflow_instances_total") == {
        labels(workflow="examples/hello", version="0.1.0", status="completed"): 1,
        labels(workflow="examples/fault", version="0.1.0", status="faulted"): 1,
    }
    assert scraped.value("podium_worker_lease_renewal_ok") == 1

    lines: list[dict[str, Any]] = [json.loads(line) for line in stderr.splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["message"].startswith(f"metrics at http://127.0.0.1:{port}/metrics")
               for line in lines)
    about = {instance: [line for line in lines if line.get("instance_id") == instance]
             for instance in (hello, fault)}
    assert {line["workflow"] for line in about[hello]} == {"examples/hello"}
    assert any(line["message"].startswith(f"started {hello}") for line in about[hello])
    [task_fault] = [line for line in about[fault] if "task" in line]
    assert task_fault == {
        **task_fault, "level": "info", "logger": "podium.tasks", "workflow": "examples/fault",
        "task": "/do/1/reject", "position": "/do/1/reject",
        "message": "task /do/1/reject faulted: Invalid amount: amount must not be negative, "
                   "got -1",
    }


def test_bad_telemetry_options_exit_2(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    code, _, stderr = invoke("worker", "--store", store, "--log-format", "xml")
    assert code == 2 and "--log-format 'xml': use text or json" in stderr
    code, _, stderr = invoke("worker", "--store", store, "--traces", "zipkin")
    assert code == 2 and "--traces 'zipkin': use console, otlp, none" in stderr
    code, _, stderr = invoke("run", EXAMPLES / "hello.yaml", env={"OTEL_TRACES_EXPORTER": "jaeger"})
    assert code == 2 and "'jaeger'" in stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, stderr = invoke("worker", "--store", store, "--metrics-port", str(port))
    assert code == 2 and f"--metrics-port {port} on 127.0.0.1:" in stderr


def test_serve_counts_what_its_worker_runs_and_logs_json_lines(tmp_path: Path) -> None:
    server, base = serving("--store", f"sqlite:///{tmp_path / 'podium.db'}",
                           "--log-format", "json")
    try:
        assert httpx.post(f"{base}/api/v1/definitions", content=GREET).status_code == 201
        started = httpx.post(f"{base}/api/v1/instances", json={"workflow": "test/greet"})
        instance_id = started.json()["id"]

        def counted() -> Scraped | None:
            scraped = Scraped(httpx.get(f"{base}/metrics", timeout=2).text)
            done = scraped.value("podium_workflow_instances_total", workflow="test/greet",
                                 version="1.0.0", status="completed")
            return scraped if done == 1 else None

        scraped = eventually(counted, what="the instance to be counted")
    finally:
        stderr = stop(server)
    assert server.returncode == 0, stderr
    assert scraped.value("podium_instance_start_delay_seconds_count", workflow="test/greet") == 1
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert any(line.get("instance_id") == instance_id and line["workflow"] == "test/greet"
               and line["message"].startswith("completed") for line in lines), lines
