"""The vehicle auction use case (examples/use-cases/vehicle-auction): bids arrive
as CloudEvents correlated by auction id; the auction closes on a close event or
when its time is up; the highest valid bid wins and every bidder is told once,
through emitted events that notify-bidder.yaml (`schedule.on`) posts to the
notification stand-in.

On SQLite through `podium serve` (API and worker in one process), and on
PostgreSQL with two `podium worker` processes fed by `podium events publish`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from examples import use_cases

from tests.cli.support import ok, serving, spawn, stop
from tests.support.postgres import PostgresServer
from tests.use_cases.events_support import (
    Api,
    CliReader,
    deploy,
    emitted,
    inbox,
    listened,
    settle,
)

pytestmark = pytest.mark.xdist_group("use-case-vehicle-auction")

CASE = use_cases.directory("vehicle-auction")
DOCUMENTS = (CASE / "auction.yaml", CASE / "notify-bidder.yaml")
SAMPLE_INPUT = json.loads((CASE / "input.json").read_text())
BIDS = json.loads((CASE / "events" / "bids.json").read_text())
CLOSE = json.loads((CASE / "events" / "close.json").read_text())

# What the sample bids make of auction a-1: bob's 4,000 is under the starting price
# (5,000), so it is not valid; ann's second bid is the highest.
A1_OUTPUT = {
    "auctionId": "a-1", "vehicle": "1967 Ford Mustang Fastback", "closedBy": "close event",
    "bids": 4,
    "winner": {"auctionId": "a-1", "bidder": "ann", "amount": 6500},
    "losers": [{"bidder": "bob", "highestBid": 4000}, {"bidder": "cid", "highestBid": 6100}],
}
A2_INPUT = {"auctionId": "a-2", "vehicle": "1972 Citroën DS", "closesAfter": "PT5S"}



def notified(services: Any) -> Counter[tuple[str, str, str]]:
    """(auction, bidder, outcome) of each notification the stand-in received."""
    return Counter((call.body["auction"]["auctionId"], call.body["bidder"], call.body["outcome"])
                   for call in services.notifications.named("notify"))


def assert_each_notification_once(services: Any, expected: set[tuple[str, str, str]]) -> None:
    settle(lambda: len(services.notifications) == len(expected), 1.0)
    assert notified(services) == Counter(expected)
    keys = [call.headers["idempotency-key"] for call in services.notifications.named("notify")]
    assert len(set(keys)) == len(keys)


@pytest.mark.timeout(120)
def test_on_sqlite_the_highest_valid_bid_wins_at_the_close_event_or_on_time(
        tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    deploy(store, *DOCUMENTS)
    server, base = serving("--store", store)
    api = Api(base)
    try:
        with use_cases.running("vehicle-auction") as services:
            first = api.start("shop/auction", SAMPLE_INPUT)
            second = api.start("shop/auction", A2_INPUT)
            waiting = api.waiting(first)
            (listener,) = waiting["waitingFor"]
            assert listener["task"] == "/do/0/collectBids/try/0/listenForBids"
            assert listener["filters"][0]["correlate"]["auction"]["expect"] == "a-1"
            api.waiting(second)

            assert api.publish(*BIDS) == {"stored": [e["id"] for e in BIDS], "duplicates": []}
            # A bid sent twice (same source and id) is kept once.
            assert api.publish(BIDS[4]) == {"stored": [], "duplicates": ["bid-5"]}
            assert api.publish(CLOSE)["stored"] == ["close-a-1"]

            closed = api.ended(first)
            assert closed["status"] == "completed", closed["error"]
            assert closed["output"] == A1_OUTPUT
            # a-2 hears no close event: its time (5 s) closes it, with dan's bid.
            timed = api.ended(second)
            assert timed["status"] == "completed", timed["error"]
            assert timed["output"] == {
                "auctionId": "a-2", "vehicle": "1972 Citroën DS", "closedBy": "time", "bids": 1,
                "winner": {"auctionId": "a-2", "bidder": "dan", "amount": 9000}, "losers": []}

            assert_each_notification_once(services, {
                ("a-1", "ann", "won"), ("a-1", "bob", "lost"), ("a-1", "cid", "lost"),
                ("a-2", "dan", "won")})
            losing = {call.body["bidder"]: call.body["auction"]
                      for call in services.notifications.named("notify")
                      if call.body["outcome"] == "lost"}
            assert losing["cid"] == {"auctionId": "a-1", "vehicle": SAMPLE_INPUT["vehicle"],
                                     "bidder": "cid", "highestBid": 6100, "winningAmount": 6500}

            entries = api.history(first)
            assert listened(entries) == [("item", "bid-1"), ("item", "bid-2"), ("item", "bid-3"),
                                         ("item", "bid-5"), ("until", "close-a-1")]
            assert [(e["type"], e["subject"]) for e in emitted(entries)] == [
                ("com.example.auction.won", "ann"), ("com.example.auction.lost", "bob"),
                ("com.example.auction.lost", "cid")]
            second_entries = api.history(second)
            assert listened(second_entries) == [("item", "bid-4")]
            assert any(e["kind"] == "task.faulted" and e["position"].endswith("listenForBids")
                       and "timeout" in e["data"]["error"]["type"] for e in second_entries)
            # One notify-bidder instance per result event, each completed.
            relays = api.instances("shop/notify-bidder")
            assert len(relays) == 4
            assert {relay["status"] for relay in relays} == {"completed"}
    finally:
        stop(server, 15)


@pytest.mark.timeout(120)
def test_on_postgresql_two_workers_run_auctions_fed_by_podium_events_publish(
        postgres: PostgresServer) -> None:
    store = postgres.create_database()
    deploy(store, *DOCUMENTS)
    workers = [spawn("worker", "--store", store, "--worker-id", f"auction-worker-{n}")
               for n in (1, 2)]
    try:
        with use_cases.running("vehicle-auction") as services:
            first = ok("start", "shop/auction", "--input", f"@{CASE / 'input.json'}",
                       "--store", store).strip()
            second = ok("start", "shop/auction", "--input", json.dumps(A2_INPUT),
                        "--store", store).strip()
            reader = CliReader(store)
            reader.waiting(first)
            reader.waiting(second)

            stored = ok("events", "publish", f"@{CASE / 'events' / 'bids.json'}",
                        "--store", store)
            assert stored.split() == [event["id"] for event in BIDS]
            ok("events", "publish", json.dumps(BIDS[4]), "--store", store)  # kept once
            ok("events", "publish", f"@{CASE / 'events' / 'close.json'}", "--store", store)

            closed = reader.ended(first)
            assert closed["status"] == "completed", closed["error"]
            assert closed["output"] == A1_OUTPUT
            timed = reader.ended(second)
            assert timed["output"]["closedBy"] == "time"
            assert timed["output"]["winner"]["bidder"] == "dan"

            assert_each_notification_once(services, {
                ("a-1", "ann", "won"), ("a-1", "bob", "lost"), ("a-1", "cid", "lost"),
                ("a-2", "dan", "won")})
            assert sorted(e["subject"] for e in inbox(store, "com.example.auction.lost")) == [
                "bob", "cid"]
            entries = reader.history(first)
            assert listened(entries) == [("item", "bid-1"), ("item", "bid-2"), ("item", "bid-3"),
                                         ("item", "bid-5"), ("until", "close-a-1")]
            assert {entry["worker"] for entry in entries} <= {
                "auction-worker-1", "auction-worker-2"}
    finally:
        for worker in workers:
            stop(worker, 15)
