"""`try`: run tasks, catch matching errors, retry them by policy, and handle
what is caught with `catch.do` (dsl-reference "Try", "Catch", "Retry").

Decisions where the spec is open:
- a caught error is retried while the policy allows; when it no longer does,
  the error counts as caught: ``catch.do`` runs if given, else the try task
  completes with its input. dsl-reference "Try" reads "potentially retrying
  failed tasks before proceeding with alternate ones", and Step Functions'
  Retry-then-Catch behaves the same way;
- ``limit.attempt.count`` is the number of retries after the first attempt;
- ``limit.attempt.duration`` bounds each attempt (an attempt running longer
  fails with a timeout error, which the catch sees like any other);
- ``limit.duration`` bounds the whole task: no retry starts after it.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.errors import WorkflowError, canonical_type
from podium.engine.journal import RETRIED
from podium.engine.state import TaskRun
from podium.limits import MAX_DURATION_SECONDS


async def execute(task: m.TryTask, run: TaskRun) -> Any:
    catch = task.catch
    policy = _policy(catch.retry, run)
    error_name = catch.as_ or "error"
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            output, run.ended = await _attempt(task, run, policy, attempt)
            return output
        except WorkflowError as error:
            caught_vars = {**run.locals, error_name: error.to_dict()}
            if not await _caught(error, catch, run, caught_vars):
                raise
            if policy is not None:
                delay = await _retry_delay(policy, attempt, run, caught_vars, started)
                if delay is not None:
                    timer = f"{run.position}@{attempt}/retry"
                    if run.instance.journal.timer(timer) is None:  # else replayed: announced
                        run.instance.lifecycle.task_event(
                            "retried", "retriedAt", run.reference, None
                        )
                    run.instance.journal.note(
                        run.position, RETRIED, {"task": run.reference, "attempt": attempt + 1}
                    )
                    # A durable timer: after a restart the retry fires when it was due.
                    await runner.sleep(run, timer, delay)
                    attempt += 1
                    continue
            if catch.do is None:
                return run.input
            output, run.ended = await runner.run_child(
                run, catch.do, "catch/do", run.input, caught_vars, mark=f"@{attempt}"
            )
            return output


async def _attempt(
    task: m.TryTask, run: TaskRun, policy: m.RetryPolicy | None, attempt: int
) -> tuple[Any, bool]:
    body = runner.run_child(run, task.try_, "try", run.input, run.locals, mark=f"@{attempt}")
    limit = policy.limit.attempt if policy and policy.limit else None
    if limit is None or limit.duration is None:
        return await body
    seconds = await runner.duration_seconds(limit.duration, run, run.instance, run.reference,
                                            "retry limit.attempt.duration")
    try:
        async with asyncio.timeout(seconds):
            return await body
    except TimeoutError:
        raise WorkflowError.timeout(
            f"attempt did not complete within {seconds:g}s (retry limit.attempt.duration)",
            run.reference,
        ) from None


def _policy(retry: m.RetryPolicy | str | None, run: TaskRun) -> m.RetryPolicy | None:
    if isinstance(retry, str):
        retries = run.instance.definition.model.use and run.instance.definition.model.use.retries
        return (retries or {})[retry]  # existence is checked at load
    return retry


async def _caught(
    error: WorkflowError, catch: m.Catch, run: TaskRun, caught_vars: dict[str, Any]
) -> bool:
    accepted = catch.errors.with_ if catch.errors is not None else None
    if accepted is not None and not _matches(accepted, error):
        return False
    scoped = run.scoped(caught_vars)
    if catch.when is not None and not await scoped.condition(catch.when):
        return False
    return not (catch.except_when is not None and await scoped.condition(catch.except_when))


def _matches(accepted: m.ErrorFilter, error: WorkflowError) -> bool:
    if accepted.type is not None and canonical_type(accepted.type) != canonical_type(error.type):
        return False
    if accepted.status is not None and accepted.status != error.status:
        return False
    if accepted.instance is not None and accepted.instance != error.instance:
        return False
    if accepted.title is not None and accepted.title != error.title:
        return False
    return accepted.details is None or accepted.details == error.detail


async def _retry_delay(
    policy: m.RetryPolicy,
    attempt: int,
    run: TaskRun,
    caught_vars: dict[str, Any],
    started: float,
) -> float | None:
    """Seconds to wait before the next attempt, or None when no retry is due."""
    scoped = run.scoped(caught_vars)
    if policy.when is not None and not await scoped.condition(policy.when):
        return None
    if policy.except_when is not None and await scoped.condition(policy.except_when):
        return None
    limit = policy.limit
    if limit is not None and limit.attempt is not None and limit.attempt.count is not None:
        if attempt >= limit.attempt.count:
            return None
    elif (limit is None or limit.duration is None) and attempt >= UNBOUNDED_RETRIES:
        # No bound at all would retry forever; a policy without limits still
        # retries, as authors asked, but never more than this many times.
        return None

    async def seconds(duration: m.DurationInline | str, field: str) -> float:
        return await runner.duration_seconds(duration, scoped, run.instance, run.reference,
                                             f"retry {field}")

    base = await seconds(policy.delay, "delay") if policy.delay is not None else 0.0
    backoff = policy.backoff
    if backoff is not None and backoff.linear is not None:
        delay, how = base * (attempt + 1), "linear backoff"
    elif backoff is not None and backoff.exponential is not None:
        # 2.0 ** 1024 overflows a float; 2.0 ** 1023 is beyond any allowed delay.
        delay = base * 2.0 ** min(attempt, 1023)
        how = "exponential backoff"
    else:
        delay, how = base, "delay"
    if policy.jitter is not None:
        low = await seconds(policy.jitter.from_, "jitter.from")
        high = await seconds(policy.jitter.to, "jitter.to")
        delay += random.uniform(min(low, high), max(low, high))
    if delay > MAX_DURATION_SECONDS:
        raise WorkflowError.configuration(
            f"retry {how}: the delay before attempt {attempt + 2} would exceed "
            f"{MAX_DURATION_SECONDS:g}s (100 years); bound the retries with limit.attempt.count "
            "or limit.duration", run.reference,
        )
    if (
        limit is not None
        and limit.duration is not None
        and time.monotonic() - started + delay > await seconds(limit.duration, "limit.duration")
    ):
        return None
    return delay


UNBOUNDED_RETRIES = 1000
