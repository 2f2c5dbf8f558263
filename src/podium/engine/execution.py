"""One execution of an instance, from start (or resumption) to how it ended."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podium.engine.errors import RUNTIME, WorkflowError
from podium.engine.journal import Parked, released
from podium.engine.runner import FAILED_TASK, deadline, run_workflow, timeout_seconds
from podium.engine.scope import CURRENT_RUN, Run
from podium.engine.state import Instance
from podium.store.base import StoreError

log = logging.getLogger("podium.engine")


@dataclass(frozen=True)
class Execution:
    """How an execution ended: ``completed`` with an output, ``faulted`` with an
    error, ``cancelled``; or, for durable runs, left memory as ``waiting`` (until
    ``wake_at``) or ``suspended``."""

    id: str
    status: str
    output: Any = None
    error: WorkflowError | None = None
    wake_at: datetime | None = None


async def execute(instance: Instance, resumed: bool = False) -> Execution:
    """Run an instance; a ``resumed`` one replays its journal and announces no new
    start. Cancellation propagates: the caller knows why it cancelled."""
    run = Run(instance, resumed)
    token = CURRENT_RUN.set(run)  # engine.scope: what observers know of this run
    try:
        return await _execute(instance, resumed, run)
    finally:
        CURRENT_RUN.reset(token)
        run.exited()


async def _execute(instance: Instance, resumed: bool, run: Run) -> Execution:
    lifecycle = instance.lifecycle
    document = instance.definition.model.document
    instance.status = "running"
    if resumed and instance.journal.suspended:
        lifecycle.workflow_event("resumed", "resumedAt", "running")
    elif resumed:
        # Started before (engine.lifecycle, "Replay"): it only goes running again.
        lifecycle.workflow_status("running")
    else:
        lifecycle.workflow_event(
            "started", "startedAt", "running",
            definition={"namespace": document.namespace, "name": document.name,
                        "version": document.version},
        )
    try:
        limit = await timeout_seconds(instance.definition.model.timeout, instance, None, "/timeout")
        if limit is None:
            output = await run_workflow(instance)
        else:
            # The workflow's time runs from its first start, across restarts; an
            # operator's retry of the faulted instance starts it afresh.
            since = max(instance.started_at, instance.journal.retried_at or instance.started_at)
            elapsed = (datetime.now(UTC) - since).total_seconds()
            left = max(limit - elapsed, 0)
            try:
                with deadline(instance, left):
                    async with asyncio.timeout(left):
                        output = await run_workflow(instance)
            except TimeoutError:
                raise WorkflowError.timeout(
                    f"the workflow did not complete within {limit:g}s", "/"
                ) from None
        # Secrets never leave the instance, not even in its output (security by
        # default: dsl.md "Secret" warns against exposing them).
        output = instance.journal.redactor.redact(output)
    except WorkflowError as error:
        instance.journal.redactor.redact_error(error)  # secrets never leave the instance
        if error.instance is None:
            error.instance = "/"
        instance.status = "faulted"
        lifecycle.workflow_event("faulted", "faultedAt", "faulted", error=error.to_dict())
        return Execution(instance.id, "faulted", error=error)
    except Parked as parked:
        await instance.journal.flush()
        instance.status = parked.status
        lifecycle.workflow_status(parked.status)
        return Execution(instance.id, parked.status, wake_at=parked.wake_at)
    except asyncio.CancelledError as stop:
        if not released(stop):  # stopped to run elsewhere: not the workflow's end
            instance.status = "cancelled"
            lifecycle.workflow_event("cancelled", "cancelledAt", "cancelled")
        raise
    except StoreError:
        # The store failed, not the workflow: the instance stays as it is
        # recorded, for its host to retry (another worker replays it).
        raise
    except Exception as exc:
        # Nothing unexpected may leave an instance running: it ends faulted, the
        # user sees that it is an internal error, the operator the traceback.
        where = getattr(exc, FAILED_TASK, None) or "/"
        log.error("internal error in instance %s at %s", instance.id, where, exc_info=exc)
        internal = internal_error(exc, where)
        instance.journal.redactor.redact_error(internal)
        instance.status = "faulted"
        run.internal_error = True
        lifecycle.workflow_event("faulted", "faultedAt", "faulted", error=internal.to_dict())
        return Execution(instance.id, "faulted", error=internal)
    instance.status = "completed"
    lifecycle.workflow_event("completed", "completedAt", "completed", output=output)
    return Execution(instance.id, "completed", output=output)


def internal_error(exc: BaseException, where: str) -> WorkflowError:
    """The runtime error an unexpected exception becomes (the engine's net here,
    the worker's around it): it says so, rather than leave the instance running."""
    if isinstance(exc, MemoryError):
        detail = (f"the instance ran out of memory in task {where} (the worker's"
                  " --max-memory cap, or the machine's); it was stopped there")
    else:
        message = str(exc)
        if len(message) > 200:
            message = message[:200] + "..."
        detail = (
            f"internal error: {type(exc).__name__} in task {where}"
            + (f" ({message})" if message else "")
            + "; the instance cannot continue (the operator's log has the details)"
        )
    return WorkflowError(RUNTIME, title="Internal Error", detail=detail, instance=where)
