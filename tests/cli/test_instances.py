"""``podium instances``: list, get, history, control and purge."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest

from podium.cli._instances import Status
from podium.store import ACTIVE, ENDED, open_store
from tests.cli.support import EXAMPLES, as_json, history, instance, invoke, ok, pausing

INSTANCE_KEYS = {
    "id", "key", "status", "workflow", "input", "output", "error", "createdAt", "startedAt",
    "updatedAt", "endedAt", "owner", "leaseExpiresAt", "wakeAt", "request", "parentId",
    "parentPosition", "crashes", "quarantined",
}


def iso(value: str) -> datetime:
    assert value.endswith("Z")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run(store: str, example: str, data: str) -> str:
    """Run an example on the store; return the id of its instance (the newest)."""
    invoke("run", EXAMPLES / example, "--input", data, "--store", store)
    newest: str = as_json("instances", "list", "--limit", "1", "--store", store)[0]["id"]
    return newest


def start(store: str, key: str | None = None) -> str:
    keyed = ("--key", key) if key else ()
    return ok("start", EXAMPLES / "hello.yaml", *keyed, "--store", store).strip()


def test_status_choices_are_the_stores() -> None:
    assert set(get_args(Status)) == {*ACTIVE, *ENDED}


def test_get_json(sqlite: str) -> None:
    completed = run(sqlite, "hello.yaml", '{"name": "Ada"}')
    record = instance(sqlite, completed)
    assert record.keys() >= INSTANCE_KEYS
    assert record["id"] == completed
    assert record["status"] == "completed"
    assert record["workflow"] == {"namespace": "examples", "name": "hello", "version": "0.1.0"}
    assert (record["input"], record["output"], record["error"]) == (
        {"name": "Ada"}, {"greeting": "Hello, Ada!"}, None
    )
    assert iso(record["createdAt"]) <= iso(record["startedAt"]) <= iso(record["endedAt"])
    assert record["owner"] is None and record["wakeAt"] is None and record["parentId"] is None
    assert (record["crashes"], record["quarantined"]) == (0, False)

    faulted = instance(sqlite, run(sqlite, "fault.yaml", '{"amount": -1}'))
    assert faulted["status"] == "faulted"
    assert faulted["error"]["instance"] == "/do/1/reject"

    pending = instance(sqlite, start(sqlite, key="k"))
    assert (pending["status"], pending["key"], pending["startedAt"], pending["endedAt"]) == (
        "pending", "k", None, None
    )


def test_get_table(sqlite: str) -> None:
    completed = run(sqlite, "hello.yaml", '{"name": "Ada"}')
    shown = ok("instances", "get", completed, "--store", sqlite)
    assert completed in shown and "examples/hello:0.1.0" in shown and "completed" in shown
    assert '"greeting": "Hello, Ada!"' in shown


@pytest.mark.parametrize("command", ["get", "history", "cancel", "suspend", "resume", "retry"])
def test_unknown_instance(sqlite: str, command: str) -> None:
    code, stdout, stderr = invoke("instances", command, "nope", "--store", sqlite)
    assert (code, stdout) == (1, "")
    assert "no instance 'nope'" in stderr


def test_list(sqlite: str) -> None:
    completed = run(sqlite, "hello.yaml", "{}")
    faulted = run(sqlite, "fault.yaml", '{"amount": -1}')
    pending = start(sqlite)
    listed = as_json("instances", "list", "--store", sqlite)
    assert [r["id"] for r in listed] == [pending, faulted, completed]  # newest first
    assert all(r.keys() >= INSTANCE_KEYS for r in listed)
    assert [r["id"] for r in as_json("instances", "list", "--status", "faulted",
                                     "--store", sqlite)] == [faulted]
    assert len(as_json("instances", "list", "-n", "2", "--store", sqlite)) == 2

    table = ok("instances", "list", "--store", sqlite).splitlines()
    assert table[0].split() == ["id", "workflow", "status", "created", "ended"]
    assert table[1].split()[:3] == [pending, "examples/hello:0.1.0", "pending"]
    assert table[2].split()[:3] == [faulted, "examples/fault:0.1.0", "faulted"]


def test_list_refuses_an_unknown_status(sqlite: str) -> None:
    code, _, stderr = invoke("instances", "list", "--status", "sleeping", "--store", sqlite)
    assert code == 2
    assert "sleeping" in stderr


def test_history(sqlite: str) -> None:
    completed = run(sqlite, "orders.yaml", '{"orders": [{"id": "A", "price": 1, "quantity": 1}]}')
    entries = history(sqlite, completed)
    assert entries
    for entry in entries:
        assert entry.keys() == {"seq", "at", "position", "kind", "data", "worker"}
        iso(entry["at"])
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    done = [e for e in entries if e["kind"] == "task.completed"]
    assert "/do/0/tally" in {e["position"] for e in done}
    table = ok("instances", "history", completed, "--store", sqlite).splitlines()
    assert table[0].split() == ["seq", "time", "position", "kind", "summary"]
    assert any("task.completed" in line and "/do/0/tally" in line for line in table)


def test_history_of_a_pending_instance_is_empty(sqlite: str) -> None:
    assert history(sqlite, start(sqlite)) == []


def test_suspend_resume_cancel(sqlite: str) -> None:
    pending = start(sqlite)
    assert ok("instances", "suspend", pending, "--store", sqlite) == "suspended\n"
    assert ok("instances", "suspend", pending, "--store", sqlite) == "suspended\n"  # no-op
    assert ok("instances", "resume", pending, "--store", sqlite) == "pending\n"
    code, stdout, stderr = invoke("instances", "resume", pending, "--store", sqlite)
    assert (code, stdout) == (0, "pending\n")
    assert "nothing to resume" in stderr
    assert ok("instances", "cancel", pending, "--store", sqlite) == "cancelled\n"
    record = instance(sqlite, pending)
    assert record["status"] == "cancelled" and record["endedAt"] is not None


def test_every_operator_action_is_in_the_history(sqlite: str) -> None:
    pending = start(sqlite)
    for command in ("suspend", "resume", "cancel"):
        ok("instances", command, pending, "--store", sqlite)
    lines = [e for e in history(sqlite, pending) if e["kind"].startswith("instance.")]
    assert [(e["position"], e["kind"], e["data"]["status"]) for e in lines] == [
        ("/", "instance.suspended", "pending"),
        ("/", "instance.resumed", "suspended"),
        ("/", "instance.cancelled", "pending"),
    ]
    assert all(e["data"]["by"].startswith("cli:") for e in lines)
    table = ok("instances", "history", pending, "--store", sqlite)
    assert "instance.suspended" in table and "by cli:" in table and "was pending" in table


def test_timer_rows_print_times_in_utc_with_z(tmp_path: Path, sqlite: str) -> None:
    invoke("run", pausing(tmp_path, 0.1), "--store", sqlite)
    newest = as_json("instances", "list", "--limit", "1", "--store", sqlite)[0]["id"]
    (timer,) = [line for line in ok("instances", "history", newest, "--store", sqlite)
                .splitlines() if " timer " in line]
    assert re.search(r"due \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$", timer), timer
    assert "+00:00" not in timer


def quarantine(store: str, instance_id: str) -> None:
    """Bring an instance to the state a worker leaves a poison instance in: taken
    over once without progress, then ended by quarantine."""

    async def crash_twice() -> None:
        opened = open_store(store)
        await opened.open()
        try:
            await opened.claim("doomed", 1, 0.01)
            await asyncio.sleep(0.05)
            (record,) = await opened.claim("survivor", 1, 30)
            assert record.crashes == 1
            await opened.release("survivor", instance_id, status="faulted",
                                 error={"title": "Quarantined"}, ended_at=datetime.now(UTC))
        finally:
            await opened.close()

    asyncio.run(crash_twice())


def test_retry_runs_a_quarantined_instance_again(sqlite: str) -> None:
    pending = start(sqlite)
    quarantine(sqlite, pending)
    record = instance(sqlite, pending)
    assert (record["status"], record["crashes"], record["quarantined"]) == ("faulted", 1, True)
    shown = ok("instances", "get", pending, "--store", sqlite)
    assert f"podium instances retry {pending}" in shown

    assert ok("instances", "retry", pending, "--store", sqlite) == "pending\n"
    record = instance(sqlite, pending)
    assert (record["status"], record["crashes"], record["quarantined"], record["error"]) == (
        "pending", 0, False, None
    )
    (retried,) = [e for e in history(sqlite, pending) if e["kind"] == "instance.retried"]
    assert retried["data"]["by"].startswith("cli:")
    # Once pending, there is nothing more to retry.
    code, _, stderr = invoke("instances", "retry", pending, "--store", sqlite)
    assert code == 1 and "is pending, not faulted" in stderr


def test_retry_of_a_faulted_instance_goes_again_from_the_task_that_faulted(sqlite: str) -> None:
    faulted = run(sqlite, "fault.yaml", '{"amount": -1}')
    assert ok("instances", "retry", faulted, "--store", sqlite) == "pending\n"
    (retried,) = [e for e in history(sqlite, faulted) if e["kind"] == "instance.retried"]
    assert retried["data"]["after"] == "fault" and retried["data"]["by"].startswith("cli:")
    record = instance(sqlite, faulted)
    assert (record["status"], record["error"], record["endedAt"]) == ("pending", None, None)


def test_rerun_from_a_task_starts_a_new_instance(sqlite: str) -> None:
    completed = run(sqlite, "fault.yaml", '{"amount": 5}')
    new_id = ok("instances", "rerun", completed, "--from", "/do/2/accept",
                "--store", sqlite).strip()
    assert new_id != completed
    rerun = instance(sqlite, new_id)
    assert (rerun["status"], rerun["input"]) == ("pending", {"amount": 5})
    lines = history(sqlite, new_id)
    assert [e["position"] for e in lines[:-1]] == ["/do/0/checkAmount"] * 2
    assert lines[-1]["kind"] == "instance.rerun"
    assert lines[-1]["data"]["from"] == completed
    code, _, stderr = invoke("instances", "rerun", completed, "--from", "/do/1/reject",
                             "--store", sqlite)
    assert code == 1 and "/do/1/reject never ran" in stderr


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("completed", "is completed, not faulted: nothing to retry"),
        ("suspended", "resume it"),
        ("pending", "it is not stopped"),
    ],
)
def test_retry_says_what_it_can_do_for_other_instances(
    sqlite: str, setup: str, says: str
) -> None:
    if setup == "completed":
        target = run(sqlite, "hello.yaml", "{}")
    else:
        target = start(sqlite)
        if setup == "suspended":
            ok("instances", "suspend", target, "--store", sqlite)
    before = instance(sqlite, target)
    code, stdout, stderr = invoke("instances", "retry", target, "--store", sqlite)
    assert (code, stdout) == (1, "")
    assert says in stderr
    assert instance(sqlite, target) == before


@pytest.mark.parametrize("command", ["cancel", "suspend", "resume"])
def test_control_of_an_ended_instance(sqlite: str, command: str) -> None:
    completed = run(sqlite, "hello.yaml", "{}")
    code, stdout, stderr = invoke("instances", command, completed, "--store", sqlite)
    assert (code, stdout) == (1, "")
    assert "has ended (completed)" in stderr
    assert instance(sqlite, completed)["status"] == "completed"


def test_purge(sqlite: str) -> None:
    ended = [run(sqlite, "hello.yaml", "{}"), run(sqlite, "fault.yaml", '{"amount": -1}')]
    pending = start(sqlite)
    assert ok("instances", "purge", "--older-than", "P1D", "--store", sqlite) == (
        "purged 0 instances\n"
    )
    assert ok("instances", "purge", "--older-than", "0s", "--store", sqlite) == (
        "purged 2 instances\n"
    )
    assert [r["id"] for r in as_json("instances", "list", "--store", sqlite)] == [pending]
    for gone in ended:
        assert invoke("instances", "get", gone, "--store", sqlite)[0] == 1
        assert invoke("instances", "history", gone, "--store", sqlite)[0] == 1


@pytest.mark.parametrize("duration", ["P30D", "PT1H", "P1DT2H", "30d", "12h", "15m", "10s",
                                      "1h30m", "2w"])
def test_purge_durations(sqlite: str, duration: str) -> None:
    assert ok("instances", "purge", "--older-than", duration, "--store", sqlite) == (
        "purged 0 instances\n"
    )


@pytest.mark.parametrize("duration", ["soon", "30", "PT", "P", "-1d", "1x", ""])
def test_purge_refuses_what_is_not_a_duration(sqlite: str, duration: str) -> None:
    code, stdout, stderr = invoke("instances", "purge", "--older-than", duration,
                                  "--store", sqlite)
    assert (code, stdout) == (2, "")
    assert "is not a duration" in stderr
