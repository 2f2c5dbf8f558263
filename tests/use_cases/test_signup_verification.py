"""The sign-up verification use case (examples/use-cases/signup-verification): a
human in the loop. The workflow emits a verification request, which
send-signup-mail.yaml (`schedule.on`) hands to the mailer stand-in; the user
clicks the link, and the mailer publishes the verification event to
`podium serve`'s API. One reminder after the first timeout, expiry after the
second. Three users at once: verified before the reminder, verified after it,
never verified."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples import use_cases

from tests.cli.support import eventually, serving, stop
from tests.use_cases.events_support import (
    Api,
    deploy,
    emitted,
    inbox,
    listened,
    settle,
)

pytestmark = pytest.mark.xdist_group("use-case-signup-verification")

CASE = use_cases.directory("signup-verification")
DOCUMENTS = (CASE / "signup.yaml", CASE / "send-signup-mail.yaml")
TIMEOUT = "https://serverlessworkflow.io/spec/1.0.0/errors/timeout"



def signup(user: str) -> dict[str, Any]:
    return {"userId": user, "email": f"{user}@example.com", "remindAfter": "PT4S",
            "expireAfter": "PT3S"}


def mails_of(services: Any, user: str) -> list[str]:
    return [call.body["kind"] for call in services.mails.named("mail")
            if call.body["userId"] == user]


def click(services: Any, user: str) -> None:
    """The user follows the link of their latest mail."""
    (link,) = {call.body["link"] for call in services.mails.named("mail")
               if call.body["userId"] == user}
    answer = httpx.get(link, timeout=10)
    assert answer.status_code == 200, answer.text


def timeouts(entries: list[dict[str, Any]]) -> list[str]:
    """Where the history says a timeout was raised (the try attempts, `@0`, left out)."""
    return [re.sub(r"@\d+", "", entry["position"]) for entry in entries
            if entry["kind"] == "task.faulted" and entry["data"]["error"]["type"] == TIMEOUT]


@pytest.mark.timeout(120)
def test_verified_before_the_reminder_after_it_or_never(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    deploy(store, *DOCUMENTS)
    server, base = serving("--store", store)
    api = Api(base)
    try:
        with use_cases.running("signup-verification") as services:
            services.PODIUM_URL = base  # where the link publishes its event
            early, late, never = (api.start("accounts/signup", signup(user), key=user)
                                  for user in ("u-1", "u-2", "u-3"))

            eventually(lambda: mails_of(services, "u-1") == ["verification"], 30,
                       "the verification mail")
            click(services, "u-1")
            click(services, "u-1")  # a second click: the same event, kept once
            eventually(lambda: mails_of(services, "u-2") == ["verification", "reminder"], 30,
                       "the reminder")
            click(services, "u-2")

            results = {user: api.ended(instance) for user, instance in
                       (("u-1", early), ("u-2", late), ("u-3", never))}
            for user, result in results.items():
                assert result["status"] == "completed", (user, result["error"])
            assert results["u-1"]["output"] == {"userId": "u-1", "status": "active",
                                                "reminded": False}
            assert results["u-2"]["output"] == {"userId": "u-2", "status": "active",
                                                "reminded": True}
            assert results["u-3"]["output"] == {"userId": "u-3", "status": "expired",
                                                "reminded": True}

            # The mails: one request each, exactly one reminder for the two late users.
            settle(lambda: len(services.mails) == 5, 1.0)
            assert mails_of(services, "u-1") == ["verification"]
            assert mails_of(services, "u-2") == ["verification", "reminder"]
            assert mails_of(services, "u-3") == ["verification", "reminder"]
            assert {call.body["to"] for call in services.mails.named("mail")} == {
                "u-1@example.com", "u-2@example.com", "u-3@example.com"}
            keys = [call.headers["idempotency-key"] for call in services.mails.named("mail")]
            assert len(set(keys)) == 5
            assert len(services.clicks) == 3

            first = api.history(early)
            assert [e["type"] for e in emitted(first)] == [
                "com.example.signup.verification-requested"]
            assert listened(first) == [("item", "verified-u-1")]
            assert timeouts(first) == []
            second = api.history(late)
            assert [e["type"] for e in emitted(second)] == [
                "com.example.signup.verification-requested", "com.example.signup.reminder"]
            assert listened(second) == [("item", "verified-u-2")]
            assert timeouts(second) == ["/do/1/awaitVerification/try/0/verified"]
            third = api.history(never)
            assert listened(third) == []
            assert timeouts(third) == [
                "/do/1/awaitVerification/try/0/verified",
                "/do/1/awaitVerification/catch/do/1/lastChance/try/0/verifiedLate"]
            assert sorted(e["subject"] for e in inbox(store, "com.example.signup.reminder")) == [
                "u-2", "u-3"]
            verified = inbox(store, "com.example.signup.verified")
            assert sorted(e["id"] for e in verified) == ["verified-u-1", "verified-u-2"]
    finally:
        stop(server, 15)


def test_the_sample_event_verifies_the_sample_user() -> None:
    sample = json.loads((CASE / "input.json").read_text())
    event = json.loads((CASE / "events" / "verified.json").read_text())
    assert event["data"] == {"userId": sample["userId"]}
    assert event["id"] == f"verified-{sample['userId']}"  # what the mailer's link publishes
