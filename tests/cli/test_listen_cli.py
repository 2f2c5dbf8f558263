"""The events issue as a user drives it: deploy the auction example, start it
under a worker, publish bids with `podium events publish`, see what it waits for
with `podium instances get`, and read the winner."""

from __future__ import annotations

import json

import pytest

from tests.cli.support import EXAMPLES, eventually, instance, invoke, ok, spawn, status_is
from tests.cli.test_worker import stop

AUCTION = EXAMPLES / "use-cases" / "vehicle-auction" / "auction.yaml"
SIGNUP = EXAMPLES / "use-cases" / "signup-verification" / "signup.yaml"


def bid(event_id: str, auction: str, bidder: str, amount: int) -> str:
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "https://bidders.example",
                       "type": "com.example.bid",
                       "data": {"auctionId": auction, "bidder": bidder, "amount": amount}})


@pytest.mark.timeout(90)
def test_an_auction_collects_its_bids_until_it_closes(store: str) -> None:
    ok("deploy", AUCTION, "--store", store)
    worker = spawn("worker", "--store", store)
    try:
        auction = ok("start", "shop/auction", "--input", '{"auctionId": "a-1"}',
                     "--store", store).strip()
        other = ok("start", "shop/auction", "--input", '{"auctionId": "a-2"}',
                   "--store", store).strip()
        eventually(lambda: instance(store, auction).get("waitingFor"), 30,
                   "the auction to wait for bids")
        shown = instance(store, auction)
        assert shown["status"] == "waiting"
        (waiting,) = shown["waitingFor"]
        assert waiting["task"] == "/do/0/collectBids/try/0/listenForBids"
        assert waiting["strategy"] == "any"
        assert waiting["filters"][0]["correlate"]["auction"]["expect"] == "a-1"
        assert waiting["deadline"] is not None
        code, table, _ = invoke("instances", "get", auction, "--store", store)
        assert code == 0 and "waiting for" in table and "com.example.bid" in table

        for event in (bid("b1", "a-1", "ann", 100), bid("b2", "a-2", "bob", 500),
                      bid("b3", "a-1", "cid", 150)):
            assert ok("events", "publish", event, "--store", store).strip()
        closed = json.dumps({"specversion": "1.0", "id": "c1",
                             "source": "https://house.example",
                             "type": "com.example.auction.closed",
                             "data": {"auctionId": "a-1"}})
        ok("events", "publish", closed, "--store", store)
        eventually(status_is(store, auction, "completed"), 30, "the auction to close")
        output = instance(store, auction)["output"]
        assert output["closedBy"] == "close event"
        assert output["winner"]["bidder"] == "cid"
        assert output["bids"] == 2
        assert output["losers"] == [{"bidder": "ann", "highestBid": 100}]
        assert instance(store, other)["status"] == "waiting"
        timeline = ok("instances", "history", auction, "--store", store)
        assert "consumed: com.example.bid from https://bidders.example (id b1)" in timeline
        assert "ended the listener: com.example.auction.closed" in timeline
    finally:
        stop(worker, within=15)


def test_run_of_a_listening_document_without_a_store_says_where_events_go() -> None:
    code, _, stderr = invoke("run", SIGNUP, "--input",
                             '{"userId": "u", "email": "u@x", "remindAfter": "PT0.1S",'
                             ' "expireAfter": "PT0.1S"}')
    assert code == 0
    assert "listens for events" in stderr and "--store" in stderr


@pytest.mark.timeout(90)
def test_a_signup_is_activated_by_its_verification_event(store: str) -> None:
    ok("deploy", SIGNUP, "--store", store)
    worker = spawn("worker", "--store", store)
    try:
        user = ok("start", "accounts/signup", "--input",
                  '{"userId": "u-1", "email": "u1@example.com", "remindAfter": "PT1M"}',
                  "--store", store).strip()
        eventually(lambda: instance(store, user).get("waitingFor"), 30,
                   "the signup to wait for its verification")
        # The request it emitted is in the inbox, with a source naming the instance.
        requested = json.loads(ok("events", "list", "--type",
                                  "com.example.signup.verification-requested", "--json",
                                  "--store", store))
        assert [e["event"]["data"] for e in requested] == [
            {"userId": "u-1", "email": "u1@example.com"}]
        assert requested[0]["source"].endswith(f":{user}")
        ok("events", "publish", json.dumps({
            "specversion": "1.0", "id": "v1", "source": "https://mailer.example",
            "type": "com.example.signup.verified", "data": {"userId": "u-2"}}),
            "--store", store)  # another user's
        ok("events", "publish", json.dumps({
            "specversion": "1.0", "id": "v2", "source": "https://mailer.example",
            "type": "com.example.signup.verified", "data": {"userId": "u-1"}}),
            "--store", store)
        eventually(status_is(store, user, "completed"), 30, "the signup to complete")
        assert instance(store, user)["output"] == {"userId": "u-1", "status": "active",
                                                   "reminded": False}
    finally:
        stop(worker, within=15)
