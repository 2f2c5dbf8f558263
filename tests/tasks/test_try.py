"""`try` (dsl-reference "Try", "Catch", "Retry"; dsl.md "Retries")."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.engine.harness import ERRORS, execute, fault, of_type, run, runtime, workflow
from tests.support.fake_services import FakeServices

COMMUNICATION = ERRORS + "communication"
LEGACY_COMMUNICATION = "https://serverlessworkflow.io/dsl/errors/types/communication"
OPEN_WORKFLOW_COMMUNICATION = (
    "https://open-workflow-specification.org/spec/1.0.0/errors/communication"
)

RAISING = """
do:
  - guarded:
      try:
        - fail:
            raise:
              error:
                type: {COMMUNICATION}
                status: 503
                title: Service Unavailable
                detail: the pet store is down
      catch:
        errors:
          with:
{FILTER}
        do:
          - recover:
              set:
                caught: ${{ $error }}
"""


def _raising(filter_yaml: str) -> str:
    lines = "\n".join(" " * 12 + line for line in filter_yaml.strip().splitlines())
    return RAISING.format(COMMUNICATION=COMMUNICATION, FILTER=lines)


# --- the error filter ---------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_yaml",
    [
        f"type: {COMMUNICATION}",
        "status: 503",
        "instance: /do/0/guarded/try/0/fail",
        "title: Service Unavailable",
        "details: the pet store is down",
        f"type: {COMMUNICATION}\nstatus: 503\ntitle: Service Unavailable",
        f"type: {LEGACY_COMMUNICATION}",
        f"type: {OPEN_WORKFLOW_COMMUNICATION}",
    ],
    ids=["type", "status", "instance", "title", "details", "several", "pre-1.0-type",
         "open-workflow-type"],
)
async def test_matching_filter_catches_the_error(filter_yaml: str) -> None:
    out = await run(_raising(filter_yaml))
    assert out == {
        "caught": {
            "type": COMMUNICATION,
            "status": 503,
            "title": "Service Unavailable",
            "detail": "the pet store is down",
            "instance": "/do/0/guarded/try/0/fail",
        }
    }


@pytest.mark.parametrize(
    "filter_yaml",
    [
        f"type: {ERRORS}timeout",
        "status: 500",
        "instance: /do/0/elsewhere",
        "title: Other",
        "details: something else",
        f"type: {COMMUNICATION}\nstatus: 500",
    ],
    ids=["type", "status", "instance", "title", "details", "one-of-several"],
)
async def test_non_matching_filter_lets_the_error_fault_the_workflow(filter_yaml: str) -> None:
    error = await fault(_raising(filter_yaml))
    assert error.type == COMMUNICATION
    assert error.status == 503
    assert error.instance == "/do/0/guarded/try/0/fail"


async def test_catch_without_filter_catches_everything() -> None:
    body = """
    do:
      - guarded:
          try:
            - fail:
                set: {x: '${ error("custom failure") }'}
          catch:
            do:
              - recover:
                  set: {type: '${ $error.type }', instance: '${ $error.instance }'}
    """
    assert await run(body) == {
        "type": ERRORS + "expression",
        "instance": "/do/0/guarded/try/0/fail",
    }


async def test_legacy_type_matches_a_real_communication_error(
    fake_services: FakeServices,
) -> None:
    body = f"""
    do:
      - tryGetPet:
          try:
            - getPet:
                call: http
                with:
                  method: get
                  endpoint: {fake_services.httpbin_url}/status/503
          catch:
            errors:
              with:
                type: {LEGACY_COMMUNICATION}
                status: 503
            as: err
            do:
              - setError:
                  set:
                    error: ${{ $err }}
    """
    out = await run(body)
    assert out["error"]["type"] == COMMUNICATION
    assert out["error"]["status"] == 503
    assert out["error"]["instance"] == "/do/0/tryGetPet/try/0/getPet"


# --- as, when, exceptWhen, catch.do -------------------------------------------------

SIMPLE = f"""
do:
  - guarded:
      try:
        - fail:
            raise:
              error:
                type: {COMMUNICATION}
                status: 503
      catch:
        errors:
          with:
            status: 503
"""


async def test_as_names_the_error_variable() -> None:
    body = SIMPLE + """
        as: problem
        do:
          - recover:
              set:
                status: ${ $problem.status }
    """
    assert await run(body) == {"status": 503}


async def test_error_variable_defaults_to_error() -> None:
    body = SIMPLE + """
        do:
          - recover:
              set:
                status: ${ $error.status }
    """
    assert await run(body) == {"status": 503}


@pytest.mark.parametrize(("retryable", "caught"), [(True, True), (False, False)])
async def test_when_decides_whether_to_catch(retryable: bool, caught: bool) -> None:
    body = SIMPLE + """
        when: ${ .retryable and $error.status == 503 }
        do:
          - recover:
              set: {recovered: true}
    """
    execution, _ = await execute(body, {"retryable": retryable})
    assert (execution.status == "completed") is caught
    if caught:
        assert execution.output == {"recovered": True}
    else:
        assert execution.error is not None
        assert execution.error.status == 503


@pytest.mark.parametrize(("fatal", "caught"), [(True, False), (False, True)])
async def test_except_when_decides_not_to_catch(fatal: bool, caught: bool) -> None:
    body = SIMPLE + """
        exceptWhen: ${ .fatal }
        do:
          - recover:
              set: {recovered: true}
    """
    execution, _ = await execute(body, {"fatal": fatal})
    assert (execution.status == "completed") is caught


async def test_try_without_error_outputs_the_try_tasks_output() -> None:
    body = """
    do:
      - guarded:
          try:
            - one:
                set: {step: one}
            - two:
                set: {step: '${ .step + "-two" }'}
          catch:
            do:
              - never:
                  set: {never: true}
    """
    assert await run(body) == {"step": "one-two"}


async def test_caught_error_without_catch_do_lets_the_workflow_continue() -> None:
    body = SIMPLE + """
  - after:
      set: {after: true}
    """
    assert await run(body) == {"after": True}


async def test_catch_do_output_flows_to_the_next_task() -> None:
    body = SIMPLE + """
        do:
          - first:
              set: {handled: 1}
          - second:
              set: {handled: '${ .handled + 1 }'}
  - after:
      set: {got: '${ .handled }'}
    """
    assert await run(body) == {"got": 2}


async def test_error_in_catch_do_faults_at_the_handler() -> None:
    body = SIMPLE + """
        do:
          - handler:
              raise:
                error:
                  type: https://example.com/errors/handler
                  status: 500
    """
    error = await fault(body)
    assert error.type == "https://example.com/errors/handler"
    assert error.instance == "/do/0/guarded/catch/do/0/handler"


async def test_tasks_after_the_failing_one_do_not_run() -> None:
    body = f"""
    do:
      - guarded:
          try:
            - fail:
                raise:
                  error: {{type: {COMMUNICATION}, status: 503}}
            - skipped:
                set: {{skipped: true}}
          catch:
            errors:
              with: {{status: 503}}
    """
    _, events = await execute(body)
    created = [e["data"]["task"] for e in of_type(events, "task.created")]
    assert "/do/0/guarded/try/1/skipped" not in created


# --- retries --------------------------------------------------------------------------

# Each attempt counts itself in the context (which survives attempts), then
# fails while fewer than `.succeedOn` attempts have run.
FLAKY = f"""
do:
  - guarded:
      try:
        - count:
            set: {{counted: true}}
            export:
              as: '${{ {{attempts: (($context.attempts // 0) + 1)}} }}'
        - flaky:
            if: ${{ $context.attempts < $workflow.input.succeedOn }}
            raise:
              error:
                type: {COMMUNICATION}
                status: 503
      catch:
        errors:
          with:
            type: {COMMUNICATION}
        retry: RETRY
  - report:
      set:
        attempts: ${{ $context.attempts }}
"""


def _flaky(retry_yaml: str, head: str = "") -> str:
    lines = "\n".join(" " * 10 + line for line in retry_yaml.strip().splitlines())
    return head + FLAKY.replace(" RETRY", "\n" + lines)


INLINE_RETRY = """
delay:
  milliseconds: 10
limit:
  attempt:
    count: 5
"""


async def test_inline_retry_reruns_until_the_attempt_succeeds() -> None:
    execution, events = await execute(_flaky(INLINE_RETRY), {"succeedOn": 3})
    assert execution.status == "completed", execution.error
    assert execution.output == {"attempts": 3}
    retried = of_type(events, "task.retried")
    assert len(retried) == 2
    assert {e["data"]["task"] for e in retried} == {"/do/0/guarded"}
    for event in retried:
        assert "retriedAt" in event["data"]


async def test_reusable_retry_policy() -> None:
    head = """
use:
  retries:
    quick:
      delay:
        milliseconds: 10
      backoff:
        constant: {}
      limit:
        attempt:
          count: 3
"""
    body = _flaky("", head=head).replace("retry:\n", "retry: quick\n")
    execution, events = await execute(body, {"succeedOn": 2})
    assert execution.output == {"attempts": 2}
    assert len(of_type(events, "task.retried")) == 1


@pytest.mark.parametrize("count", [0, 1, 3])
async def test_attempt_count_is_the_number_of_retries_after_the_first_attempt(
    count: int,
) -> None:
    retry = f"""
delay:
  milliseconds: 5
limit:
  attempt:
    count: {count}
"""
    _, events = await execute(_flaky(retry), {"succeedOn": 100})
    attempts = [e for e in of_type(events, "task.started")
                if e["data"]["task"] == "/do/0/guarded/try/1/flaky"]
    assert len(attempts) == count + 1
    assert len(of_type(events, "task.retried")) == count


async def test_retry_except_when_stops_retrying() -> None:
    retry = """
delay:
  milliseconds: 5
exceptWhen: ${ $error.status == 503 }
limit:
  attempt:
    count: 5
"""
    _, events = await execute(_flaky(retry), {"succeedOn": 3})
    assert of_type(events, "task.retried") == []


async def test_retry_when_false_does_not_retry() -> None:
    retry = """
delay:
  milliseconds: 5
when: ${ $error.status == 500 }
limit:
  attempt:
    count: 5
"""
    _, events = await execute(_flaky(retry), {"succeedOn": 3})
    assert of_type(events, "task.retried") == []


async def test_retry_of_a_real_service_error(fake_services: FakeServices) -> None:
    fake_services.reset()
    body = f"""
    do:
      - guarded:
          try:
            - getStatus:
                call: http
                with:
                  method: get
                  endpoint: {fake_services.httpbin_url}/status/503
          catch:
            errors:
              with:
                type: {COMMUNICATION}
                status: 503
            retry:
              delay:
                milliseconds: 5
              limit:
                attempt:
                  count: 2
    """
    _, events = await execute(body)
    assert fake_services.hits["/httpbin/status/503"] == 3
    assert len(of_type(events, "task.retried")) == 2


# --- backoff --------------------------------------------------------------------------

# Long enough that a loaded machine's scheduling delays (tens of ms) stay well
# under one delay, which separates each factor from the next.
DELAY_MS = 250


async def _retry_gaps(backoff: str) -> list[float]:
    """Seconds between each retried event and the next attempt's start."""
    retry = f"""
delay:
  milliseconds: {DELAY_MS}
backoff:
  {backoff}: {{}}
limit:
  attempt:
    count: 3
"""
    stamped: list[tuple[float, dict[str, Any]]] = []

    def listener(event: dict[str, Any]) -> None:
        stamped.append((time.monotonic(), event))

    async with runtime(listeners=[listener]) as rt:
        await rt.execute(workflow(_flaky(retry)), {"succeedOn": 100})
    gaps: list[float] = []
    retried_at: float | None = None
    for moment, event in stamped:
        kind = event["type"]
        if kind.endswith("task.retried.v1"):
            retried_at = moment
        elif (kind.endswith("task.started.v1") and retried_at is not None
              and event["data"]["task"] == "/do/0/guarded/try/0/count"):
            gaps.append(moment - retried_at)
            retried_at = None
    assert len(gaps) == 3
    return gaps


@pytest.mark.parametrize(
    ("backoff", "factors"),
    [("constant", [1, 1, 1]), ("linear", [1, 2, 3]), ("exponential", [1, 2, 4])],
)
async def test_backoff_scales_the_delay(backoff: str, factors: list[int]) -> None:
    gaps = await _retry_gaps(backoff)
    delay = DELAY_MS / 1000
    for gap, factor in zip(gaps, factors, strict=True):
        assert gap >= factor * delay * 0.9, (backoff, gaps)
        # Below the next factor's delay: a whole delay of headroom for scheduling.
        assert gap < (factor + 1) * delay, (backoff, gaps)


# --- nesting and timeouts -------------------------------------------------------------


async def test_error_not_caught_by_an_inner_try_reaches_the_outer_one() -> None:
    body = """
    do:
      - outer:
          try:
            - inner:
                try:
                  - fail:
                      raise:
                        error: {type: https://example.com/errors/e, status: 500}
                catch:
                  errors:
                    with: {status: 404}
                  do:
                    - wrongHandler:
                        set: {caughtBy: inner}
          catch:
            errors:
              with: {status: 500}
            as: e
            do:
              - handler:
                  set: {caughtBy: outer, at: '${ $e.instance }'}
    """
    assert await run(body) == {
        "caughtBy": "outer",
        "at": "/do/0/outer/try/0/inner/try/0/fail",
    }


async def test_timed_out_attempts_are_retried() -> None:
    body = f"""
    do:
      - guarded:
          try:
            - slow:
                wait: PT10S
                timeout:
                  after: {{milliseconds: 30}}
          catch:
            errors:
              with: {{type: {ERRORS}timeout, status: 408}}
            retry:
              delay: {{milliseconds: 5}}
              limit:
                attempt:
                  count: 2
    """
    started = time.monotonic()
    _, events = await execute(body)
    # Half of what a single attempt that was not interrupted would take.
    assert time.monotonic() - started < 5
    assert len(of_type(events, "task.retried")) == 2
    slow_faults = [e for e in of_type(events, "task.faulted")
                   if e["data"]["task"] == "/do/0/guarded/try/0/slow"]
    assert len(slow_faults) == 3


async def test_workflow_timeout_interrupts_a_retry_delay() -> None:
    body = """
    timeout:
      after: {milliseconds: 100}
    do:
      - guarded:
          try:
            - fail:
                raise:
                  error: {type: https://example.com/errors/e, status: 500}
          catch:
            retry:
              delay: {seconds: 10}
              limit:
                attempt:
                  count: 3
    """
    started = time.monotonic()
    error = await fault(body)
    assert time.monotonic() - started < 5  # half of the retry delay it interrupts
    assert error.type == ERRORS + "timeout"
