"""`wait` (dsl-reference "Wait", "Duration")."""

from __future__ import annotations

import time

import pytest

from tests.engine.harness import execute, of_type, run


@pytest.mark.parametrize(
    "duration",
    ["PT0.05S", "{milliseconds: 50}", "{seconds: 0, milliseconds: 50}"],
    ids=["iso8601", "inline-milliseconds", "inline-mixed"],
)
async def test_wait_pauses_for_the_duration_and_passes_its_input_on(duration: str) -> None:
    body = f"""
    do:
      - pause:
          wait: {duration}
    """
    started = time.monotonic()
    assert await run(body, {"kept": True}) == {"kept": True}
    elapsed = time.monotonic() - started
    assert 0.05 <= elapsed < 5  # not a unit off: 50 s


async def test_wait_duration_from_an_expression() -> None:
    body = """
    do:
      - pause:
          wait: ${ .delay }
    """
    started = time.monotonic()
    await run(body, {"delay": "PT0.05S"})
    assert 0.05 <= time.monotonic() - started < 5


async def test_waiting_reports_the_waiting_status_phase() -> None:
    body = """
    do:
      - pause:
          wait: {milliseconds: 1}
    """
    _, events = await execute(body)
    # dsl.md "Status Phases": `waiting` while a wait task pauses the execution.
    task = [e["data"]["status"] for e in of_type(events, "task.status-changed")]
    assert task == ["pending", "running", "waiting", "running", "completed"]
    workflow = [e["data"]["status"] for e in of_type(events, "workflow.status-changed")]
    assert workflow == ["running", "waiting", "running", "completed"]


async def test_concurrent_waits_report_each_status_change_once() -> None:
    # The workflow waits while every branch waits; a status-changed event
    # announces a change, so the same status is never announced twice in a row.
    body = """
    do:
      - both:
          fork:
            branches:
              - short:
                  wait: {milliseconds: 20}
              - long:
                  wait: {milliseconds: 60}
    """
    _, events = await execute(body)
    workflow = [e["data"]["status"] for e in of_type(events, "workflow.status-changed")]
    assert workflow == ["running", "waiting", "running", "completed"]
