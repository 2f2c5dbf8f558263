"""The error notifications use case (examples/use-cases/error-notifications):
error events from other systems start instances of a deployed workflow with
`schedule.on`; a `switch` on severity routes each to the chat webhook, the pager
(acknowledged through a `listen`, escalated on timeout) or the daily digest; the
same event reported twice (same source and id) notifies once. On SQLite through
`podium serve`; the pager's acknowledge button publishes to its API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples import use_cases

from tests.cli.support import eventually, serving, stop
from tests.use_cases.events_support import Api, deploy, listened, settle

pytestmark = pytest.mark.xdist_group("use-case-error-notifications")

CASE = use_cases.directory("error-notifications")
DOCUMENTS = (CASE / "notify-error.yaml", CASE / "send-daily-digest.yaml")
TIMEOUT = "https://serverlessworkflow.io/spec/1.0.0/errors/timeout"


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((CASE / "events" / f"{name}.json").read_text())
    return event


def key(event: dict[str, Any]) -> str:
    return f"{event['source']} {event['id']}"



def routed_to(entries: list[dict[str, Any]]) -> str:
    """Where the history says the `switch` sent the instance."""
    (decision,) = [entry for entry in entries if entry["kind"] == "task.completed"
                   and entry["position"] == "/do/0/routeBySeverity"]
    directive: str = decision["data"]["directive"]
    return directive


@pytest.mark.timeout(120)
def test_each_severity_takes_its_route_and_a_duplicate_notifies_once(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    deploy(store, *DOCUMENTS)
    server, base = serving("--store", store)
    api = Api(base)
    database_down, payment_failed = sample("database-down"), sample("payment-failed")
    slow_report = sample("slow-report")
    disk_full = sample("disk-full")
    disk_full["data"]["ackWithin"] = "PT2S"  # nobody acknowledges it: escalated
    try:
        with use_cases.running("error-notifications") as services:
            services.PODIUM_URL = base  # where the acknowledge button publishes
            assert api.publish(database_down, payment_failed, slow_report, disk_full) == {
                "stored": ["err-1001", "err-1002", "err-1003", "err-1004"], "duplicates": []}
            # The checkout service reports its error again: the same event.
            assert api.publish(payment_failed) == {"stored": [], "duplicates": ["err-1002"]}

            # On-call acknowledges the database page (its button publishes the event).
            primary = eventually(lambda: [call.body for call in services.pages.named("page")
                                          if call.body["alertKey"] == key(database_down)], 30,
                                 "the database page")
            answer = httpx.get(f"{services.PAGER_URL}/ack",
                               params={"page": primary[0]["page"], "by": "ann"}, timeout=10)
            assert answer.status_code == 200, answer.text

            instances = eventually(lambda: len(found := api.instances("ops/notify-error")) == 4
                                   and found, 30, "four notify-error instances")
            # Each instance's input: the array of the events that started it (one here).
            ended = {key(shown["input"][0]): shown
                     for shown in (api.ended(item["id"]) for item in instances)}
            assert {k: v["status"] for k, v in ended.items()} == dict.fromkeys(
                map(key, (database_down, payment_failed, slow_report, disk_full)), "completed")
            assert ended[key(database_down)]["output"] == {
                "route": "pager", "alertKey": key(database_down), "acknowledgedBy": "ann"}
            assert ended[key(disk_full)]["output"] == {
                "route": "pager", "alertKey": key(disk_full), "escalated": True}
            assert ended[key(payment_failed)]["output"] == {
                "route": "chat", "alertKey": key(payment_failed)}
            assert ended[key(slow_report)]["output"] == {
                "route": "digest", "alertKey": key(slow_report)}

            # What each stand-in received: every notification exactly once.
            settle(lambda: len(services.pages.named("page")) == 3, 1.0)
            assert sorted((call.body["alertKey"], call.body["target"])
                          for call in services.pages.named("page")) == sorted([
                (key(database_down), "primary"), (key(disk_full), "primary"),
                (key(disk_full), "secondary")])
            assert [call.body for call in services.chat_messages.named("message")] == [{
                "text": "[checkout] payment provider answered 502 for order 4711",
                "alertKey": key(payment_failed)}]
            assert [call.body for call in services.digest_calls.named("item")] == [{
                "alertKey": key(slow_report), "severity": "warning", "service": "reports",
                "message": "nightly report took 48 minutes"}]
            assert len(services.pages.named("ack")) == 1

            histories = {k: api.history(v["id"]) for k, v in ended.items()}
            assert {k: routed_to(v) for k, v in histories.items()} == {
                key(database_down): "pageOnCall", key(disk_full): "pageOnCall",
                key(payment_failed): "postToChat", key(slow_report): "addToDailyDigest"}
            acked = histories[key(database_down)]
            assert listened(acked) == [("item", f"ack-{primary[0]['page']}")]
            assert not [e for e in acked if e["kind"] == "task.faulted"]
            escalated = histories[key(disk_full)]
            assert listened(escalated) == []
            assert [re.sub(r"@\d+", "", e["position"]) for e in escalated
                    if e["kind"] == "task.faulted" and e["data"]["error"]["type"] == TIMEOUT] == [
                "/do/4/awaitAcknowledgement/try/0/acknowledged"]
            assert any(e["kind"] == "task.completed" and "escalate" in e["position"]
                       for e in escalated)

            # The morning digest (its cron schedule, started by hand here).
            digest = api.ended(api.start("ops/send-daily-digest", {}))
            assert digest["status"] == "completed", digest["error"]
            assert digest["output"] == {"channel": "#ops-daily", "items": [{
                "alertKey": key(slow_report), "severity": "warning", "service": "reports",
                "message": "nightly report took 48 minutes"}]}
            assert len(services.digest_calls.named("digest")) == 1
    finally:
        stop(server, 15)
