"""Durations given by expressions, in every duration field (issue 7, item 22), and
computed durations that are absurd (item 3): a clean fault naming the field,
never an OverflowError.

`timeout.after` is evaluated when the task (or workflow) starts, before
`input.from`, against the raw input; the durations inside a task (wait, retry)
see the task's transformed input."""

from __future__ import annotations

import time

import pytest

from tests.engine.harness import ERRORS, execute, fault, of_type, run

TIMEOUT = ERRORS + "timeout"
EXPRESSION = ERRORS + "expression"
CONFIGURATION = ERRORS + "configuration"
SECONDS = '${ "PT" + (.secs | tostring) + "S" }'


async def test_a_task_timeout_expression_sees_the_tasks_raw_input() -> None:
    # The peer implementation's case: `.` was null, giving 'PTnullS'.
    body = f"""
    do:
      - pause:
          timeout:
            after: '{SECONDS}'
          wait: PT0.05S
    """
    assert await run(body, {"secs": 2}) == {"secs": 2}


async def test_a_task_timeout_expression_sees_the_input_before_input_from() -> None:
    body = f"""
    do:
      - pause:
          input:
            from: '${{ {{other: 1}} }}'
          timeout:
            after: '{SECONDS}'
          wait: PT5S
    """
    began = time.monotonic()
    error = await fault(body, {"secs": 0.2})
    assert error.type == TIMEOUT
    assert error.instance == "/do/0/pause"
    assert "within 0.2s" in (error.detail or "")
    assert time.monotonic() - began < 4


async def test_a_reusable_timeout_expression() -> None:
    body = f"""
    use:
      timeouts:
        quick:
          after: '{SECONDS}'
    do:
      - pause:
          timeout: quick
          wait: PT5S
    """
    error = await fault(body, {"secs": 0.2})
    assert error.type == TIMEOUT
    assert "within 0.2s" in (error.detail or "")


async def test_a_workflow_timeout_expression_sees_the_workflows_raw_input() -> None:
    body = f"""
    input:
      from: '${{ {{narrowed: true}} }}'
    timeout:
      after: '{SECONDS}'
    do:
      - pause:
          wait: PT5S
    """
    error = await fault(body, {"secs": 0.2})
    assert error.type == TIMEOUT
    assert error.instance == "/"
    assert "the workflow did not complete within 0.2s" in (error.detail or "")


async def test_a_wait_expression_sees_the_transformed_input() -> None:
    body = f"""
    do:
      - pause:
          input:
            from: '${{ {{secs: .inner}} }}'
          wait: '{SECONDS}'
    """
    began = time.monotonic()
    assert await run(body, {"inner": 0.3}) == {"secs": 0.3}
    assert time.monotonic() - began >= 0.3


RETRY = """
    do:
      - attempt:
          try:
            - fail:
                raise:
                  error:
                    type: https://example.com/flaky
                    status: 503
          catch:
            errors:
              with:
                status: 503
            retry:
{policy}
"""


def retrying(policy: str) -> str:
    indent = " " * 14
    return RETRY.format(policy="\n".join(indent + line for line in policy.strip().splitlines()))


async def test_a_retry_delay_expression() -> None:
    execution, events = await execute(retrying(f"""
delay: '{SECONDS}'
limit:
  attempt:
    count: 2
"""), {"secs": 0.1})
    assert execution.status == "completed"
    assert len(of_type(events, "task.retried")) == 2


async def test_a_retry_delay_expression_with_exponential_backoff() -> None:
    began = time.monotonic()
    execution, events = await execute(retrying(f"""
delay: '{SECONDS}'
backoff:
  exponential: {{}}
limit:
  attempt:
    count: 3
"""), {"secs": 0.05})
    assert execution.status == "completed"
    assert len(of_type(events, "task.retried")) == 3
    assert time.monotonic() - began >= 0.05 + 0.1 + 0.2  # doubled each time


async def test_a_retry_limit_duration_expression() -> None:
    execution, events = await execute(retrying(f"""
delay: PT0.1S
limit:
  duration: '{SECONDS}'
"""), {"secs": 0.35})
    assert execution.status == "completed"  # retries stop; the error counts as caught
    assert 1 <= len(of_type(events, "task.retried")) <= 4


async def test_a_retry_attempt_duration_expression() -> None:
    body = f"""
    do:
      - attempt:
          try:
            - slow:
                wait: PT5S
          catch:
            errors:
              with:
                type: {TIMEOUT}
            as: caught
            retry:
              limit:
                attempt:
                  count: 1
                  duration: '{SECONDS}'
            do:
              - report:
                  set:
                    caught: '${{ $caught.detail }}'
    """
    began = time.monotonic()
    output = await run(body, {"secs": 0.2})
    assert "within 0.2s (retry limit.attempt.duration)" in output["caught"]
    assert time.monotonic() - began < 4


# --- item 3: computed durations that no clock can take ---------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param('${ "P99999999999999D" }', "durations must be between 0 and", id="huge"),
        pytest.param("${ 1e300 }", "durations must be between 0 and", id="huge-number"),
        pytest.param("${ -5 }", "durations must be between 0 and", id="negative"),
        pytest.param("${ infinite }", "durations must be between 0 and", id="infinite"),
        pytest.param("${ nan }", "not an ISO 8601 duration", id="nan"),
        pytest.param('${ "P" + ("9" * 400) + "D" }', "not a finite number", id="overflow"),
        pytest.param('${ "soon" }', "not an ISO 8601 duration", id="not-a-duration"),
    ],
)
async def test_a_computed_wait_out_of_range_faults_cleanly(expression: str, message: str) -> None:
    error = await fault(f"""
    do:
      - pause:
          wait: '{expression}'
    """)
    assert error.type == EXPRESSION
    assert error.instance == "/do/0/pause"
    assert message in (error.detail or "")
    assert (error.detail or "").startswith("wait: ")


async def test_a_computed_task_timeout_out_of_range_faults_cleanly() -> None:
    error = await fault("""
    do:
      - pause:
          timeout:
            after: '${ "P99999999999999D" }'
          wait: PT0S
    """)
    assert error.type == EXPRESSION
    assert (error.detail or "").startswith("timeout.after: ")


async def test_a_computed_workflow_timeout_out_of_range_faults_cleanly() -> None:
    error = await fault("""
    timeout:
      after: '${ "P99999999999999D" }'
    do:
      - t:
          set: {a: 1}
    """)
    assert error.type == EXPRESSION
    assert error.instance == "/timeout"


async def test_a_retry_delay_beyond_the_limit_faults_cleanly() -> None:
    # 100 years of delay plus jitter: the retry cannot be scheduled.
    error = await fault(retrying("""
delay: '${ "P36500D" }'
jitter:
  from: PT1S
  to: PT2S
limit:
  attempt:
    count: 3
"""))
    assert error.type == CONFIGURATION
    assert "would exceed" in (error.detail or "")
