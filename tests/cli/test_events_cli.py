"""``podium events publish`` and ``podium events list``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from podium.cli import app
from tests.cli.support import as_json, invoke, ok

EVENT_KEYS = {"key", "receivedAt", "type", "source", "id", "subject", "origin",
              "dispatchedAt", "consumers", "event"}


def event(number: int, **changes: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"b{number}", "source": "bidder",
            "type": "com.example.bid", "data": {"amount": number}, **changes}


def text(value: Any) -> str:
    return json.dumps(value)


def listed(store: str, *options: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = as_json("events", "list", *options, "--store", store)
    return found


def test_publish_one_event_prints_its_id(store: str) -> None:
    assert ok("events", "publish", text(event(1)), "--store", store) == "b1\n"
    [stored] = listed(store)
    assert stored.keys() == EVENT_KEYS
    assert (stored["id"], stored["source"], stored["type"], stored["origin"]) == (
        "b1", "bidder", "com.example.bid", "cli"
    )
    assert stored["event"] == event(1)
    assert stored["consumers"] == []


def test_publish_a_batch_from_a_file(store: str, tmp_path: Path) -> None:
    path = tmp_path / "bids.json"
    path.write_text(text([event(1), event(2, subject="a-1")]), encoding="utf-8")
    assert ok("events", "publish", f"@{path}", "--store", store) == "b1\nb2\n"
    assert [(e["id"], e["subject"]) for e in listed(store)] == [("b2", "a-1"), ("b1", None)]


def test_publish_from_standard_input(sqlite: str) -> None:
    result = CliRunner().invoke(app, ["events", "publish", "-", "--store", sqlite],
                                input=text([event(1), event(2)]))
    assert (result.exit_code, result.stdout) == (0, "b1\nb2\n"), result.stderr
    assert len(listed(sqlite)) == 2


def test_a_duplicate_is_kept_once_and_said_on_stderr(store: str) -> None:
    ok("events", "publish", text(event(1)), "--store", store)
    code, stdout, stderr = invoke("events", "publish", text([event(1, data={}), event(2)]),
                                  "--store", store)
    assert (code, stdout) == (0, "b2\n")
    assert stderr == "event bidder b1 is already stored (same source and id): kept once\n"
    stored = {e["id"]: e for e in listed(store)}
    assert stored.keys() == {"b1", "b2"}
    assert stored["b1"]["event"]["data"] == {"amount": 1}


def test_an_invalid_event_refuses_the_batch(store: str) -> None:
    bad = event(2)
    del bad["source"]
    code, stdout, stderr = invoke("events", "publish", text([event(1), bad]), "--store", store)
    assert (code, stdout) == (2, "")
    assert stderr == "error: event 2 of 2: 'source' is required: nothing was stored\n"
    assert listed(store) == []


@pytest.mark.parametrize(("given", "message"), [
    ({**event(1), "specversion": "0.3"}, "error: 'specversion' must be \"1.0\"\n"),
    ({**event(1), "id": 7}, "error: 'id' must be a non-empty string\n"),
    ({**event(1), "My_Ext": "x"}, "error: extension attribute 'My_Ext': names are "
     "lower-case letters a-z and digits 0-9 only (CloudEvents naming conventions)\n"),
])
def test_an_invalid_event_names_the_attribute(sqlite: str, given: Any, message: str) -> None:
    code, stdout, stderr = invoke("events", "publish", text(given), "--store", sqlite)
    assert (code, stdout, stderr) == (2, "", message)


def test_strict_json_only(sqlite: str) -> None:
    code, _, stderr = invoke("events", "publish", '{"id": NaN}', "--store", sqlite)
    assert code == 2
    assert "EVENT is not valid JSON: NaN is not a JSON number" in stderr
    code, _, stderr = invoke("events", "publish", "@/nonexistent/bids.json", "--store", sqlite)
    assert code == 2 and "cannot read EVENT file /nonexistent/bids.json" in stderr


def test_list_filters_by_type_since_and_limit(store: str) -> None:
    ok("events", "publish", text([event(1), event(2, type="com.example.close"), event(3)]),
       "--store", store)
    assert [e["id"] for e in listed(store)] == ["b3", "b2", "b1"]
    assert [e["id"] for e in listed(store, "--type", "com.example.bid")] == ["b3", "b1"]
    assert [e["id"] for e in listed(store, "--limit", "2")] == ["b3", "b2"]
    assert len(listed(store, "--since", "1h")) == 3
    assert len(listed(store, "--since", "PT5M")) == 3
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert listed(store, "--since", future) == []
    assert len(listed(store, "--since", "2000-01-01")) == 3


def test_list_since_refuses_what_is_neither_time_nor_duration(sqlite: str) -> None:
    code, _, stderr = invoke("events", "list", "--since", "last week", "--store", sqlite)
    assert code == 2
    assert "--since 'last week' is neither a time" in stderr


def test_list_table(sqlite: str) -> None:
    long_source = "https://example.com/" + "x" * 120
    ok("events", "publish", text([event(1, subject="a-1", source=long_source), event(2)]),
       "--store", sqlite)
    out = ok("events", "list", "--store", sqlite)
    header, *rows = out.splitlines()
    assert header.split() == ["received", "type", "source", "id", "subject", "consumers"]
    assert len(rows) == 2
    assert rows[0].split()[2:5] == ["com.example.bid", "bidder", "b2"]
    assert rows[1].split()[2:6] == ["com.example.bid", long_source, "b1", "a-1"]
    assert "…" not in out


def test_worker_refuses_a_bad_events_url(sqlite: str) -> None:
    code, _, stderr = invoke("worker", "--events", "localhost:4222",
                             "--store", sqlite)
    assert code == 2
    assert "--events: 'localhost:4222' is not a NATS URL (nats://host:4222)" in stderr


def test_worker_says_when_nats_does_not_answer(sqlite: str) -> None:
    code, _, stderr = invoke("worker", "--events", "nats://127.0.0.1:1", "--store", sqlite)
    assert code == 2
    assert "cannot connect to NATS at nats://127.0.0.1:1" in stderr
