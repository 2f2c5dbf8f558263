"""A schedule is checked when the document loads: ``podium validate`` names a bad
one with its line and column, like every other problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import invoke

HEAD = """\
document:
  dsl: '1.0.3'
  namespace: test
  name: scheduled
  version: '0.1.0'
schedule:
"""
DO = """\
do:
  - report:
      set: {done: true}
"""


def validate(tmp_path: Path, schedule: str) -> tuple[int, str]:
    path = tmp_path / "scheduled.yaml"
    path.write_text(HEAD + schedule + DO, encoding="utf-8")
    code, stdout, _ = invoke("validate", path)
    return code, stdout.replace(str(path), "FILE")


@pytest.mark.parametrize(("schedule", "line"), [
    ("  cron: 61 * * * *\n",
     "FILE:7:3: /schedule/cron: invalid cron expression '61 * * * *'"),
    ("  cron: 0 0 * * * *\n",
     "FILE:7:3: /schedule/cron: invalid cron expression '0 0 * * * *': expected 5 fields"
     " (minute hour day-of-month month day-of-week), got 6"),
    ("  cron: every night\n",
     "FILE:7:3: /schedule/cron: invalid cron expression 'every night': expected 5 fields"
     " (minute hour day-of-month month day-of-week), got 2"),
    ("  cron: 0 0 31 2 *\n", "FILE:7:3: /schedule/cron: cron expression '0 0 31 2 *' never fires"),
    ("  every: PT1M\n  cron: 0 2 * * *\n",
     "FILE:6:1: /schedule: a schedule takes exactly one of 'every', 'cron', 'after' or 'on',"
     " got 'every' and 'cron'"),
    ("  on:\n    any:\n      - with: {type: com.example.a}\n    until: ${ true }\n",
     "FILE:10:5: /schedule/on/until: 'until' is not supported in a schedule: a schedule starts"
     " an instance for every match for as long as it is deployed; use a 'listen' task with"
     " 'until' instead"),
])
def test_a_bad_schedule_is_refused_with_its_position(
    tmp_path: Path, schedule: str, line: str
) -> None:
    code, stdout = validate(tmp_path, schedule)
    assert code == 2
    assert stdout.strip() == line


@pytest.mark.parametrize("schedule", [
    "  cron: 0 2 * * *\n", "  cron: '*/5 9-17 * * 1-5'\n", "  cron: '@daily'\n",
    "  every: PT1H\n", "  every: {minutes: 5}\n", "  after: PT10M\n",
    "  on:\n    one:\n      with: {type: com.example.alert}\n",
])
def test_good_schedules_are_valid(tmp_path: Path, schedule: str) -> None:
    code, stdout = validate(tmp_path, schedule)
    assert (code, stdout.strip()) == (0, "FILE: valid")
