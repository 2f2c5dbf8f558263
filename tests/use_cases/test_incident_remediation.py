"""Use case incident-remediation (examples/use-cases/incident-remediation/), as its
README runs it: the fleet and pager stand-ins, `podium worker --allow-run script`
on a SQLite store, `podium deploy`, then alerts and approvals with `podium events
publish`: the deployed `schedule.on` starts one instance per alert.

A safe runbook runs at once; a risky one waits for an operator's approval; a
remediation that does not heal the service is escalated exactly once. The history
is the audit trail: the diagnosis, the chosen runbook, who approved, what the
script did, what verification saw, the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from examples import use_cases

from tests.cli.support import eventually, history
from tests.use_cases._ops import (
    completed_positions,
    deploy,
    ended,
    instances_of,
    publish,
    waiting_at,
    worker,
)

pytestmark = pytest.mark.xdist_group("use-case-incident-remediation")

CASE = "incident-remediation"
DIRECTORY = use_cases.directory(CASE)
WORKFLOW = "ops/incident-remediation"
APPROVAL_TASK = "/do/8/awaitOperatorApproval/try/0/operatorDecision"
DIAGNOSIS = ["metrics", "logs", "deploys"]


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_ALLOW_RUN", "PODIUM_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'podium.db'}"


def event(sample: str, **data: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (DIRECTORY / "events" / sample).read_text(encoding="utf-8"))
    return {**loaded, "data": {**loaded["data"], **data}}


def started_by(store: str, alert_id: str) -> str:
    """The instance the alert started (the deployed schedule starts it)."""
    def find() -> str | None:
        for item in instances_of(store, WORKFLOW):
            if item["input"][0]["data"]["alertId"] == alert_id:
                return str(item["id"])
        return None

    found: str = eventually(find, 30, f"an instance for {alert_id}")
    return found


def task_outputs(store: str, instance_id: str) -> dict[str, Any]:
    """Each top-level task's output, by task name, from the history."""
    outputs: dict[str, Any] = {}
    for entry in history(store, instance_id):
        parts = entry["position"].split("/")
        if entry["kind"] == "task.completed" and len(parts) == 4:
            outputs[parts[3]] = entry["data"]["output"]
    return outputs



def test_a_safe_runbook_is_applied_at_once_and_verified(store: str) -> None:
    with use_cases.running(CASE) as services, worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "remediation.yaml")
        publish(store, event("alert-checkout-disk.json"))
        instance_id = started_by(store, "alert-1001")
        shown = ended(store, instance_id)

        assert shown["status"] == "completed", shown["error"]
        assert shown["output"] == {
            "status": "resolved", "alertId": "alert-1001", "service": "checkout",
            "runbook": "rotate-logs", "approvedBy": None,
            "verification": {"service": "checkout", "healthy": True},
        }
        fleet = services.FLEET_CALLS
        assert sorted(fleet.names()[:3]) == sorted(DIAGNOSIS)  # in parallel: any order
        assert fleet.names()[3:] == ["remediate", "verify"]
        (remediation,) = fleet.named("remediate")
        assert remediation.body == {"alertId": "alert-1001", "service": "checkout",
                                    "runbook": "rotate-logs"}
        assert len(services.PAGER_CALLS) == 0

    # The audit trail: diagnosis, plan, remediation, verification; no approval.
    outputs = task_outputs(store, instance_id)
    assert outputs["diagnose"]["metrics"]["diskUsedPercent"] == 96
    assert outputs["planLogRotation"] == {
        "runbook": "rotate-logs", "risk": "low",
        "reason": "disk 96% full; top error OSError: [Errno 28] No space left on device"}
    assert outputs["remediate"] == {"runbook": "rotate-logs", "service": "checkout",
                                    "applied": True}
    assert "awaitOperatorApproval" not in outputs and "escalate" not in outputs
    branches = [p for p in completed_positions(store, instance_id) if "/fork/branches/" in p]
    assert sorted(p.rsplit("/", 1)[1] for p in branches) == [
        "listRecentDeploys", "readLogs", "readMetrics"]


def test_a_risky_runbook_waits_for_the_operator_and_records_who_approved(store: str) -> None:
    with use_cases.running(CASE) as services, worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "remediation.yaml")
        publish(store, event("alert-payments-errors.json"))
        instance_id = started_by(store, "alert-1002")
        waiting = waiting_at(store, instance_id, APPROVAL_TASK)
        (listener,) = waiting["waitingFor"]
        assert listener["filters"][0]["correlate"]["alert"]["expect"] == "alert-1002"
        assert "remediate" not in services.FLEET_CALLS.names()  # nothing before approval
        publish(store, event("approve-alert-1002.json"))
        shown = ended(store, instance_id)

        assert shown["status"] == "completed", shown["error"]
        output = shown["output"]
        assert (output["status"], output["runbook"], output["approvedBy"]) == (
            "resolved", "rollback-release", "grace")
        (remediation,) = services.FLEET_CALLS.named("remediate")
        assert remediation.body["runbook"] == "rollback-release"
        assert len(services.FLEET_CALLS.named("verify")) == 1
        assert len(services.PAGER_CALLS) == 0

    entries = history(store, instance_id)
    (consumed,) = [e for e in entries if e["kind"] == "event.received"]
    assert consumed["data"]["event"]["source"] == "https://chat.example/incident-bot"
    assert consumed["data"]["event"]["data"] == {"alertId": "alert-1002", "approved": True,
                                                 "by": "grace"}
    outputs = task_outputs(store, instance_id)
    assert outputs["planRollback"]["risk"] == "high"
    assert outputs["planRollback"]["reason"].startswith("error rate 0.31 since 3.8.0 (5 min ago)")
    assert outputs["awaitOperatorApproval"]["by"] == "grace"
    # The approval was consumed before the script ran: the order of the trail.
    sequence = {e["position"]: e["seq"] for e in entries if e["kind"] == "task.completed"}
    assert sequence["/do/8/awaitOperatorApproval"] < sequence["/do/10/remediate"]


def test_a_failed_verification_is_escalated_exactly_once(store: str) -> None:
    with use_cases.running(CASE) as services, worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "remediation.yaml")
        publish(store, event("alert-search-disk.json"))
        instance_id = started_by(store, "alert-1003")
        shown = ended(store, instance_id)

        assert shown["status"] == "completed", shown["error"]
        output = shown["output"]
        assert output["status"] == "escalated"
        assert output["runbook"] == "rotate-logs"
        assert output["verification"] == {"service": "search", "healthy": False}
        assert output["page"] == {"pageId": "p-1", "onCall": "sre-primary"}
        (page,) = services.PAGER_CALLS.named("page")
        assert page.body["reason"] == "the service is still unhealthy after rotate-logs"
        assert page.body["diagnosis"]["logs"]["topError"] == "index segment merge failed: disk full"
        assert page.headers["idempotency-key"] == f"{instance_id}:/do/14/escalate"
        assert services.FLEET_CALLS.names()[3:] == ["remediate", "verify"]

    positions = completed_positions(store, instance_id)
    assert positions[-3:] == ["/do/12/checkRecovery", "/do/14/escalate",
                              "/do/15/reportEscalation"]
    assert "/do/13/resolve" not in positions


def test_a_risky_runbook_nobody_approves_in_time_is_escalated_not_applied(store: str) -> None:
    with use_cases.running(CASE) as services, worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "remediation.yaml")
        publish(store, event("alert-payments-errors.json", approvalTimeout="PT1S"))
        instance_id = started_by(store, "alert-1002")
        shown = ended(store, instance_id)

        assert shown["status"] == "completed", shown["error"]
        assert shown["output"]["status"] == "escalated"
        assert shown["output"]["approval"]["by"] == "nobody"
        assert "remediate" not in services.FLEET_CALLS.names()
        (page,) = services.PAGER_CALLS.named("page")
        assert page.body["reason"] == (
            "rollback-release was not approved: no operator answered within PT1S")


def test_a_malformed_alert_faults_before_anything_is_touched(store: str) -> None:
    malformed = {**event("alert-checkout-disk.json"), "id": "alert-bad",
                 "data": {"alertId": "alert-bad"}}
    with use_cases.running(CASE) as services, worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "remediation.yaml")
        publish(store, malformed)
        shown = ended(store, started_by(store, "alert-bad"))
        assert shown["status"] == "faulted"
        assert (shown["error"]["status"], shown["error"]["title"]) == (400, "Malformed alert")
        assert shown["error"]["instance"] == "/do/0/refuseMalformedAlert"
        assert len(services.FLEET_CALLS) == len(services.PAGER_CALLS) == 0
