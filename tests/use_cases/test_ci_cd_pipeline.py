"""Use case ci-cd-pipeline (examples/use-cases/ci-cd-pipeline/), as its README
runs it: the deployer stand-in, `podium worker --allow-run shell,script,container`
on a SQLite store, `podium deploy`, `podium start`, `podium events publish`.

Approved → built in a real container (podman, a local busybox image), deployed
once and healthy; no approval in time → nothing deployed; an unhealthy release →
rolled back exactly once; without `--allow-run` → refused with the 403 the README
documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from examples import use_cases

from tests.cli.support import history, invoke
from tests.support.containers import Engine
from tests.use_cases._ops import (
    completed_positions,
    deploy,
    ended,
    publish,
    start,
    waiting_at,
    worker,
)

# The build runs a real container, and real containers share one podman: every
# test of this module runs in the process of the "containers" group (pyproject:
# loadgroup; tests/processes/test_container.py), which also keeps this case's
# fixed port (8770) to one process.
pytestmark = pytest.mark.xdist_group("containers")

CASE = "ci-cd-pipeline"
DIRECTORY = use_cases.directory(CASE)
PIPELINE = DIRECTORY / "pipeline.yaml"
WORKFLOW = "ops/ci-cd-pipeline"
ALLOW_RUN = ("--allow-run", "shell,script,container")
APPROVAL_TASK = "/do/3/awaitApproval/try/0/approvalEvent"


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_ALLOW_RUN", "PODIUM_CONTAINER_ENGINE", "PODIUM_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'podium.db'}"


def pipeline_input(tmp_path: Path, sample: str = "input.json", **changes: Any) -> dict[str, Any]:
    """The README's sample input with its workspace under ``tmp_path``."""
    data: dict[str, Any] = json.loads((DIRECTORY / sample).read_text(encoding="utf-8"))
    return {**data, "workspace": str(tmp_path / "workspace" / data["pipelineId"]), **changes}


def approval(sample: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((DIRECTORY / "events" / sample).read_text(encoding="utf-8"))
    return event


def run_until_approval(store: str, data: dict[str, Any]) -> str:
    deploy(store, PIPELINE)
    instance_id = start(store, WORKFLOW, data)
    waiting_at(store, instance_id, APPROVAL_TASK)
    return instance_id



@pytest.mark.timeout(150)
def test_an_approved_release_is_built_in_a_container_deployed_once_and_healthy(
    tmp_path: Path, store: str, container_engine: Engine
) -> None:
    data = pipeline_input(tmp_path, buildImage=container_engine.image)
    engine = {"PODIUM_CONTAINER_ENGINE": container_engine.path}
    with use_cases.running(CASE) as services, worker(store, *ALLOW_RUN, env=engine):
        instance_id = run_until_approval(store, data)
        assert services.CALLS.names() == []  # nothing deployed before the approval
        publish(store, approval("approve-web-1.4.0.json"))
        shown = ended(store, instance_id, timeout=60)

        assert shown["status"] == "completed", shown["error"]
        output = shown["output"]
        assert output["status"] == "deployed" and output["healthy"] is True
        assert output["build"] == {"artifact": "web:1.4.0-3f2c1ab", "builtIn": "container"}
        assert output["tests"] == {"tests": 3, "failures": 0, "errors": 0}
        assert output["approvedBy"] == "ada"
        assert output["deployment"]["previousVersion"] == "1.3.0"
        # The checkout happened: the workspace holds the sources and the commit.
        workspace = Path(data["workspace"])
        assert (workspace / "COMMIT").read_text(encoding="utf-8") == "3f2c1ab\n"
        assert (workspace / "calculator.py").is_file()

        # Exactly one deploy (with its idempotency key) and one health check.
        assert services.CALLS.names() == ["deploy", "health"]
        (deployed,) = services.CALLS.named("deploy")
        assert deployed.body == {"service": "web", "version": "1.4.0",
                                 "artifact": "web:1.4.0-3f2c1ab", "pipelineId": "web-1.4.0"}
        assert deployed.headers["idempotency-key"] == f"{instance_id}:/do/6/deploy"

    assert completed_positions(store, instance_id)[-1] == "/do/8/reportDeployed"
    entries = history(store, instance_id)
    consumed = [e for e in entries if e["kind"] == "event.received"]
    assert [e["data"]["event"]["id"] for e in consumed] == ["approval-web-1.4.0"]
    assert not [e for e in entries if e["position"].startswith("/do/7/verifyHealth/catch")]


def test_without_an_approval_in_time_nothing_is_deployed(
    tmp_path: Path, store: str, absent_container_engine: str
) -> None:
    data = pipeline_input(tmp_path, approvalTimeout="PT1S")
    engine = {"PODIUM_CONTAINER_ENGINE": absent_container_engine}
    with use_cases.running(CASE) as services, worker(store, *ALLOW_RUN, env=engine):
        deploy(store, PIPELINE)
        instance_id = start(store, WORKFLOW, data)
        shown = ended(store, instance_id)
        # An approval after the deadline changes nothing.
        publish(store, approval("approve-web-1.4.0.json"))

        assert shown["status"] == "completed", shown["error"]
        output = shown["output"]
        assert output["status"] == "not-deployed"
        assert output["reason"] == "no approval within PT1S"
        # No engine: the build is skipped with the configuration error's detail.
        assert output["build"]["builtIn"] == "skipped"
        assert absent_container_engine in output["build"]["skipped"]
        assert "(PODIUM_CONTAINER_ENGINE)" in output["build"]["skipped"]
        assert services.CALLS.names() == []

    faults = [e for e in history(store, instance_id) if e["kind"] == "task.faulted"]
    assert [(e["position"], e["data"]["error"]["status"]) for e in faults] == [
        ("/do/2/buildArtifact@0/try/0/buildInContainer", 400),
        ("/do/3/awaitApproval@0/try/0/approvalEvent", 408),
    ]


def test_an_unhealthy_release_is_rolled_back_exactly_once(
    tmp_path: Path, store: str, absent_container_engine: str
) -> None:
    data = pipeline_input(tmp_path, "input-broken.json")
    engine = {"PODIUM_CONTAINER_ENGINE": absent_container_engine}
    with use_cases.running(CASE) as services, worker(store, *ALLOW_RUN, env=engine):
        instance_id = run_until_approval(store, data)
        publish(store, approval("approve-web-2.0.0-broken.json"))
        shown = ended(store, instance_id)

        assert shown["status"] == "completed", shown["error"]
        output = shown["output"]
        assert output["status"] == "rolled-back"
        assert output["rolledBackTo"] == "1.3.0"
        assert "503" in output["reason"]
        # One deploy, the first check and its two retries, one rollback.
        assert services.CALLS.names() == ["deploy", "health", "health", "health", "rollback"]
        (rolled_back,) = services.CALLS.named("rollback")
        assert rolled_back.body == {"deploymentId": output["deployment"]["deploymentId"]}
        assert rolled_back.headers["idempotency-key"] == (
            f"{instance_id}:/do/7/verifyHealth@2/catch/do/0/rollBack")

    entries = history(store, instance_id)
    retried = [e for e in entries if e["kind"] == "task.retried"]
    assert len(retried) == 2
    assert completed_positions(store, instance_id)[-2:] == [
        "/do/7/verifyHealth@2/catch/do/1/reportRollback", "/do/7/verifyHealth"]


def test_without_allow_run_the_pipeline_is_refused(tmp_path: Path) -> None:
    data = pipeline_input(tmp_path)
    with use_cases.running(CASE) as services:
        code, stdout, stderr = invoke("run", PIPELINE, "--input", json.dumps(data))
        assert services.CALLS.names() == []
    assert (code, stdout) == (1, "")
    problem = json.loads(stderr.strip().splitlines()[-1])
    assert problem["status"] == 403
    assert problem["instance"] == "/do/0/checkout"
    assert problem["detail"] == ("run: shell is disabled on this runtime; the operator enables "
                                 "it with `--allow-run shell` or PODIUM_ALLOW_RUN=shell")
    assert not Path(data["workspace"]).exists()
