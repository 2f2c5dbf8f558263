"""``podium schedules list``, ``podium run`` of a scheduled document, and a real
``podium worker`` firing a schedule."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.support import EXAMPLES, as_json, eventually, invoke, ok, spawn
from tests.cli.test_worker import stop

EVERY = """\
document:
  dsl: '1.0.3'
  namespace: test
  name: tick
  version: '{version}'
schedule:
  every: {every}
do:
  - count:
      set: {{ticked: true}}
"""


def ticking(tmp_path: Path, every: str = "PT1S", version: str = "0.1.0") -> Path:
    path = tmp_path / f"tick-{version}.yaml"
    path.write_text(EVERY.format(every=every, version=version), encoding="utf-8")
    return path


def test_schedules_list_shows_every_deployed_schedule(tmp_path: Path, store_url: str) -> None:
    ok("deploy", EXAMPLES / "nightly-report.yaml", ticking(tmp_path, "PT1H"),
       EXAMPLES / "hello.yaml", "--store", store_url)
    code, table, _ = invoke("schedules", "list", "--store", store_url)
    assert code == 0
    lines = table.splitlines()
    assert lines[0].split() == ["workflow", "kind", "expression", "next", "last", "last",
                                "instance"]
    assert re.match(r"examples/nightly-report:0\.1\.0 +cron +0 2 \* \* \* +\d{4}-\d\d-\d\d"
                    r" 02:00:00Z\s*$", lines[1]), lines[1]
    assert re.match(r"test/tick:0\.1\.0 +every +PT1H +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s*$",
                    lines[2]), lines[2]
    assert len(lines) == 3  # hello has no schedule

    listed = as_json("schedules", "list", "--store", store_url)
    assert [(s["namespace"], s["name"], s["version"], s["kind"], s["expression"])
            for s in listed] == [("examples", "nightly-report", "0.1.0", "cron", "0 2 * * *"),
                                 ("test", "tick", "0.1.0", "every", "PT1H")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT02:00:00\.000Z", listed[0]["nextDue"])
    assert (listed[0]["lastDue"], listed[0]["lastInstance"]) == (None, None)


def test_schedules_list_of_a_store_without_schedules(store_url: str) -> None:
    assert as_json("schedules", "list", "--store", store_url) == []


def test_run_of_a_scheduled_document_runs_once_and_says_where_schedules_run() -> None:
    code, stdout, stderr = invoke("run", EXAMPLES / "nightly-report.yaml")
    assert code == 0
    report = json.loads(stdout)["report"]
    assert (report["orders"], report["revenue"]) == (3, 50)
    assert stderr.strip() == (
        "note: this run starts the workflow once, now; its schedule is fired by `podium "
        "worker` once the workflow is deployed (`podium deploy`)"
    )
    _, _, plain = invoke("run", EXAMPLES / "hello.yaml")
    assert "schedule" not in plain


@pytest.mark.timeout(90)
def test_a_worker_fires_an_every_schedule_again_and_again(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'podium.db'}"
    ok("deploy", ticking(tmp_path), "--store", store)
    worker = spawn("worker", "--store", store, "--worker-id", "ticker")

    def completed() -> list[dict[str, object]]:
        instances = as_json("instances", "list", "--store", store)
        done = [i for i in instances if i["status"] == "completed"]
        return done if len(done) >= 2 else []

    try:
        done = eventually(completed, timeout=30, what="two scheduled instances completed")
    finally:
        log = stop(worker)
    keys = {str(i["key"]) for i in done}
    assert len(keys) == len(done)  # each its own due time
    assert all(re.fullmatch(r"schedule:test/tick:\d{4}-\d\d-\d\dT[\d:.]+Z", k) for k in keys)
    fired = re.findall(r"^\S+Z schedule test/tick:0\.1\.0 fired for (\S+): instance (\S+)$",
                       log, re.M)
    assert len(fired) >= 2, log
    [schedule] = as_json("schedules", "list", "--store", store)
    assert schedule["lastInstance"] in {instance for _, instance in fired}
