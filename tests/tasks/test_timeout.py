"""Task and workflow timeouts (dsl.md "Timeouts", dsl-reference "Timeout"): the
running work is interrupted and the timeout error raised."""

from __future__ import annotations

import time

import pytest

from tests.engine.harness import ERRORS, execute, run

TIMEOUT = ERRORS + "timeout"
# Seconds within which a timed-out run ends: half of the 10 s waits it interrupts,
# so that a slow machine never fails it and a timeout that does not fire always does.
INTERRUPTED = 5

TASK_TIMEOUTS = [
    pytest.param(
        """
        do:
          - slow:
              wait: PT10S
              timeout:
                after: {milliseconds: 100}
        """,
        id="inline",
    ),
    pytest.param(
        """
        do:
          - slow:
              wait: PT10S
              timeout:
                after: PT0.1S
        """,
        id="inline-iso8601",
    ),
    pytest.param(
        """
        use:
          timeouts:
            short:
              after: {milliseconds: 100}
        do:
          - slow:
              wait: PT10S
              timeout: short
        """,
        id="use-timeouts",
    ),
]


@pytest.mark.parametrize("body", TASK_TIMEOUTS)
async def test_task_timeout_interrupts_the_task(body: str) -> None:
    started = time.monotonic()
    execution, events = await execute(body)
    assert time.monotonic() - started < INTERRUPTED
    assert execution.status == "faulted"
    error = execution.error
    assert error is not None
    assert error.type == TIMEOUT
    assert error.status == 408
    assert error.instance == "/do/0/slow"
    faulted = [e for e in events if e["type"].endswith("task.faulted.v1")]
    assert [e["data"]["error"]["type"] for e in faulted] == [TIMEOUT]


async def test_task_timeout_cancels_the_work_inside_the_task() -> None:
    body = """
    do:
      - group:
          timeout:
            after: {milliseconds: 100}
          do:
            - slow:
                wait: PT10S
            - later:
                set: {never: true}
    """
    started = time.monotonic()
    execution, events = await execute(body)
    assert time.monotonic() - started < INTERRUPTED
    assert execution.error is not None
    assert execution.error.type == TIMEOUT
    assert execution.error.instance == "/do/0/group"
    kinds = {(e["type"].split(".")[-2], e["data"].get("task")) for e in events}
    assert ("cancelled", "/do/0/group/do/0/slow") in kinds
    assert ("created", "/do/0/group/do/1/later") not in kinds


async def test_fast_task_is_unaffected_by_its_timeout() -> None:
    body = """
    do:
      - quick:
          set: {done: true}
          timeout:
            after: {seconds: 5}
    """
    assert await run(body) == {"done": True}


async def test_task_timeout_can_be_caught() -> None:
    body = f"""
    do:
      - guarded:
          try:
            - slow:
                wait: PT10S
                timeout:
                  after: {{milliseconds: 100}}
          catch:
            errors:
              with:
                type: {TIMEOUT}
            do:
              - fallback:
                  set: {{timedOut: '${{ $error.instance }}'}}
    """
    started = time.monotonic()
    assert await run(body) == {"timedOut": "/do/0/guarded/try/0/slow"}
    assert time.monotonic() - started < INTERRUPTED


WORKFLOW_TIMEOUTS = [
    pytest.param(
        """
        timeout:
          after: {milliseconds: 100}
        do:
          - first:
              set: {a: 1}
          - slow:
              wait: PT10S
        """,
        id="inline",
    ),
    pytest.param(
        """
        use:
          timeouts:
            short:
              after: PT0.1S
        timeout: short
        do:
          - first:
              set: {a: 1}
          - slow:
              wait: PT10S
        """,
        id="use-timeouts",
    ),
]


@pytest.mark.parametrize("body", WORKFLOW_TIMEOUTS)
async def test_workflow_timeout_interrupts_the_workflow(body: str) -> None:
    started = time.monotonic()
    execution, events = await execute(body)
    assert time.monotonic() - started < INTERRUPTED
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type == TIMEOUT
    assert execution.error.status == 408
    types = [e["type"].removeprefix("io.serverlessworkflow.") for e in events]
    assert "task.cancelled.v1" in types
    assert "workflow.faulted.v1" in types
    assert "workflow.completed.v1" not in types


async def test_workflow_timeout_is_not_caught_by_a_try_inside_it() -> None:
    # The workflow's own deadline ends it: no task can catch it and go on.
    body = f"""
    timeout:
      after: {{milliseconds: 100}}
    do:
      - guarded:
          try:
            - slow:
                wait: PT10S
          catch:
            errors:
              with:
                type: {TIMEOUT}
            do:
              - fallback:
                  wait: PT10S
    """
    started = time.monotonic()
    execution, _ = await execute(body)
    assert time.monotonic() - started < INTERRUPTED
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type == TIMEOUT
