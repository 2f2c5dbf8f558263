"""The interpreter: the data flow around every task, written once, and the
walk of a task list with its flow directives (dsl.md "Task Flow", "Data Flow")."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from podium.dsl import model as m
from podium.dsl.durations import inline_seconds, iso_seconds
from podium.engine.errors import WorkflowError
from podium.engine.journal import COMPLETED, FAULTED, STARTED, TIMER, Parked, released
from podium.engine.scope import CURRENT_TASK
from podium.engine.state import Arguments, Instance, TaskRun
from podium.limits import MAX_DURATION_SECONDS
from podium.tasks import execute_kind

CONTINUE, EXIT, END = "continue", "exit", "end"

# How long a scope runs tasks back to back before it yields to the event loop.
YIELD_AFTER_SECONDS = 0.005

# The attribute naming the task an unexpected exception came from.
FAILED_TASK = "podium_task"


async def duration_seconds(
    duration: m.DurationInline | str, run: TaskRun | None, instance: Instance, where: str,
    field: str = "duration", *, before_input: bool = False,
) -> float:
    """Seconds in a duration; an expression must evaluate to an ISO 8601 string (or
    a number of seconds). Inside a task it sees the task's transformed input
    (dsl.md "Data Flow", step 4); ``before_input`` evaluates it against the raw
    input instead (a task's own timeout); without ``run``, the workflow's raw input.
    Whatever it gives must be a finite duration within MAX_DURATION_SECONDS."""
    if isinstance(duration, m.DurationInline):
        return checked_seconds(inline_seconds(duration), where, field)
    text = duration
    if m.RUNTIME_EXPRESSION.match(text):
        if run is None:
            data: Any = instance.raw_input
            variables: Mapping[str, Any] = Arguments(instance, None, "workflow-input")
        elif before_input:
            data, variables = run.raw_input, run.variables("if")
        else:
            data, variables = run.input, run.variables("task")
        value = await instance.evaluator.template(text, data, variables, where)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return checked_seconds(float(value), where, field, text)
        if not isinstance(value, str):
            raise WorkflowError.expression(
                f"{field}: '{text}' gave {value!r}, not an ISO 8601 duration", where
            )
        try:
            return checked_seconds(iso_seconds(value), where, field, text)
        except ValueError:
            raise WorkflowError.expression(
                f"{field}: '{text}' gave {value!r}, not an ISO 8601 duration", where
            ) from None
    try:
        return checked_seconds(iso_seconds(text), where, field)
    except ValueError as exc:
        raise WorkflowError.expression(f"{field}: {exc}", where) from None


def checked_seconds(seconds: float, where: str, field: str, text: str | None = None) -> float:
    """A duration the clock arithmetic can take: finite, not negative, at most
    MAX_DURATION_SECONDS (datetimes overflow not far beyond). A computed one
    that is not faults with the expression error; a literal one (refused at load
    in principle) with the configuration error."""
    if math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION_SECONDS:
        return seconds
    shown = f"{seconds:g}s" if math.isfinite(seconds) else "not a finite number of seconds"
    problem = (
        f"{field}: the duration is {shown}; durations must be between 0 and "
        f"{MAX_DURATION_SECONDS:g}s (100 years)"
    )
    if text is None:
        raise WorkflowError.configuration(problem, where)
    raise WorkflowError.expression(f"{problem} ('{text}')", where)


async def sleep(run: TaskRun, position: str, seconds: float) -> None:
    """A durable timer: its due time is journaled, so after a restart it fires at
    the original time; a long one parks the instance out of memory."""
    journal = run.instance.journal
    if not journal.enabled:
        await asyncio.sleep(seconds)
        return
    remaining = await _remaining(run, position, seconds)
    park_after = run.instance.park_after
    if park_after is not None and remaining > park_after:
        due = journal.timer(position)
        assert due is not None  # just recorded or replayed
        # A timeout around this timer must still fire on time while the instance
        # is parked: wake it by then (replay finds the timeout expired). An
        # earlier wake than needed only costs a replay that parks again.
        wake_at = min([due, *run.instance.deadlines])
        if (wake_at - datetime.now(UTC)).total_seconds() > park_after:
            raise Parked("waiting", wake_at)
    run.instance.sleeping += 1  # nothing runs for it meanwhile (see podium.worker)
    try:
        await asyncio.sleep(remaining)
    finally:
        run.instance.sleeping -= 1


@contextlib.contextmanager
def deadline(instance: Instance, seconds: float) -> Iterator[None]:
    """Announce a timeout of ``seconds`` from now to the timers running inside it."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    instance.deadlines.append(at)
    try:
        yield
    finally:
        instance.deadlines.remove(at)


async def _remaining(run: TaskRun, position: str, seconds: float) -> float:
    journal = run.instance.journal
    due = journal.timer(position)
    if due is None:
        due = datetime.now(UTC) + timedelta(seconds=seconds)
        await journal.record(position, TIMER, {"task": run.reference, "due": due.isoformat()})
    return max((due - datetime.now(UTC)).total_seconds(), 0.0)


async def timeout_seconds(setting: m.Timeout | str | None, instance: Instance,
                          run: TaskRun | None, where: str) -> float | None:
    """A task's or the workflow's timeout. Its clock starts with the task, before
    `input.from` (which it bounds too), so an expression in `after` sees the raw
    input: a task's (with the arguments of `if`, which is evaluated at the same
    point), or the workflow's (dsl-reference "Timeout"; dsl.md "Data Flow")."""
    if setting is None:
        return None
    if isinstance(setting, str):
        timeouts = instance.definition.model.use and instance.definition.model.use.timeouts
        setting = (timeouts or {})[setting]  # existence is checked at load
    return await duration_seconds(setting.after, run, instance, where, "timeout.after",
                                  before_input=True)


async def run_task(
    instance: Instance,
    name: str,
    task: m.AnyTask,
    reference: str,
    position: str,
    raw_input: Any,
    local_vars: Mapping[str, Any],
) -> tuple[Any, str]:
    """Run one task through the whole data flow; return its output and the flow
    directive to follow next. ``position`` identifies this execution of the task
    in the journal (its reference plus iteration, attempt and visit marks)."""
    run = TaskRun(instance, name, task, reference, position, raw_input, local_vars)
    token = CURRENT_TASK.set(run)  # engine.scope: the task its events are about
    try:
        return await _run_task(run)
    finally:
        CURRENT_TASK.reset(token)


async def _run_task(run: TaskRun) -> tuple[Any, str]:
    instance, name, task, reference, position, raw_input = (
        run.instance, run.name, run.task, run.reference, run.position, run.raw_input
    )
    lifecycle = instance.lifecycle
    journal = instance.journal
    evaluator = instance.evaluator
    if not instance.running.is_set() and instance.unload_when_suspended:
        # Durable runs leave memory while suspended; resuming replays them. The
        # task is not announced (not even skipped): the resumed run reaches it anew.
        raise Parked("suspended")
    # Lifecycle events are news: what an earlier run of this instance announced
    # (engine.lifecycle, "Replay") is not announced again.
    if task.if_ is not None and not await evaluator.condition(
        task.if_, raw_input, run.variables("if"), reference
    ):
        # Skipped: the raw input becomes the output (dsl-reference "Task", `if`).
        # Nothing records a skip: recomputed while the instance catches up, it
        # was announced by the run that first passed here.
        if not journal.catching_up:
            lifecycle.task_event("created", "createdAt", reference, "pending")
            lifecycle.task_event("completed", "completedAt", reference, "completed",
                                 output=raw_input)
        return raw_input, CONTINUE

    if journal.enabled:
        recorded = journal.outcome(position)
        if recorded is not None:
            return _replay(instance, recorded.kind, recorded.data)
    # A task whose start is on record (parked in a `wait`, interrupted by a crash)
    # goes on: it was created and started already.
    began = run.resumed = journal.started(position)
    if not began:
        lifecycle.task_event("created", "createdAt", reference, "pending")

    if not instance.running.is_set():
        lifecycle.task_event("suspended", "suspendedAt", reference, "suspended")
        # Suspended: the task waits at its start until the workflow resumes.
        await instance.running.wait()
        lifecycle.task_event("resumed", "resumedAt", reference, "running")
    if not began:
        lifecycle.task_event("started", "startedAt", reference, "running")
    context_before = instance.context
    if journal.enabled:
        journal.note(position, STARTED, {"task": reference, "input": raw_input})
    try:
        limit = (
            await timeout_seconds(task.timeout, instance, run, reference)
            if task.timeout is not None else None
        )
        if limit is None:
            await _envelope(run)
        else:
            # A task timeout is a durable timer too: it counts from the first start.
            left = (
                await _remaining(run, f"{position}#timeout", limit)
                if journal.enabled else limit
            )
            try:
                with deadline(instance, left):
                    async with asyncio.timeout(left):
                        await _envelope(run)
            except TimeoutError:
                raise WorkflowError.timeout(
                    f"task '{name}' did not complete within {limit:g}s", reference
                ) from None
    except WorkflowError as error:
        if error.instance is None:
            error.instance = reference
        if journal.enabled:
            faulted: dict[str, Any] = {"task": reference, "error": error.to_dict()}
            if instance.context is not context_before:  # nested exports before the fault
                faulted["context"] = instance.context
            await journal.record(position, FAULTED, faulted)
        lifecycle.task_event("faulted", "faultedAt", reference, "faulted", error=error.to_dict())
        raise
    except asyncio.CancelledError as stop:
        if not released(stop):  # left to another run, the task is not cancelled
            lifecycle.task_event("cancelled", "cancelledAt", reference, "cancelled")
        raise
    except Exception as exc:
        # Not a workflow's error (a bug, RecursionError, MemoryError, a library
        # error nobody translated): it ends the instance (engine.execution); the
        # innermost task it crossed is the one to name.
        if not hasattr(exc, FAILED_TASK):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, FAILED_TASK, reference)
        raise
    directive = END if run.ended else run.directive or task.then or CONTINUE
    if journal.enabled:
        outcome: dict[str, Any] = {"task": reference, "output": run.output,
                                   "directive": directive}
        # Not only this task's own `export`: a composite task's nested tasks may
        # have exported too, and replaying its recorded outcome runs none of them.
        if task.export is not None or instance.context is not context_before:
            outcome["context"] = instance.context
        await journal.record(position, COMPLETED, outcome)
        # That append waited for the store: the loop ran others meanwhile.
        instance.yielded_at = time.monotonic()
    lifecycle.task_event("completed", "completedAt", reference, "completed", output=run.output)
    return run.output, directive


def _replay(instance: Instance, kind: str, data: dict[str, Any]) -> tuple[Any, str]:
    """A recorded outcome, as if the task had just run (its lifecycle events were
    published by the run that recorded it, and are not published again)."""
    if "context" in data:
        instance.context = data["context"]
    if kind == FAULTED:
        raise WorkflowError.from_dict(data["error"])
    return data["output"], data["directive"]


async def _envelope(run: TaskRun) -> None:
    """Steps 3-8 of dsl.md "Data Flow" around the task kind's own work."""
    task, instance, reference = run.task, run.instance, run.reference
    evaluator = instance.evaluator
    data = run.raw_input
    if task.input is not None:
        if task.input.schema_ is not None:
            await instance.schemas.validate(task.input.schema_, data, "task input", reference)
        if task.input.from_ is not None:
            data = await evaluator.transform(
                task.input.from_, data, run.variables("input"), reference
            )
    run.input = data
    extensions = (
        await extensions_for(run) if instance.extensions and EXTENDING not in run.locals else ()
    )
    bypassed = False
    for where, extension in extensions:
        if extension.before:
            output, flow = await run_scope(
                instance, extension.before, f"{where}/before", f"{run.position}+{where}/before",
                data, _extending(run),
            )
            if flow == EXIT:
                # dsl-reference "Extension": `exit` in `before` bypasses the task,
                # whose output is then what the extension produced.
                run.raw_output, bypassed = output, True
                break
    if not bypassed:
        run.raw_output = await execute_kind(task, run)
    for where, extension in extensions:
        if extension.after:
            await run_scope(
                instance, extension.after, f"{where}/after", f"{run.position}+{where}/after",
                run.raw_output, _extending(run),
            )
    output = run.raw_output
    if task.output is not None:
        if task.output.as_ is not None:
            output = await evaluator.transform(
                task.output.as_, output, run.variables("output"), reference
            )
        run.output = output
        if task.output.schema_ is not None:
            await instance.schemas.validate(task.output.schema_, output, "task output", reference)
    run.output = output
    if task.export is not None:
        if task.export.as_ is not None:
            instance.context = await evaluator.transform(
                task.export.as_, output, run.variables("export"), reference
            )
        if task.export.schema_ is not None:
            await instance.schemas.validate(
                task.export.schema_, instance.context, "exported context", reference
            )


# A local marking tasks run by an extension, which are never extended again.
EXTENDING = "\x00extending"

_EXTENDED_KINDS: dict[str, tuple[type, ...]] = {
    "call": (m.CallHTTP, m.CallOpenAPI, m.CallGRPC, m.CallAsyncAPI, m.CallA2A, m.CallMCP,
             m.CallFunction),
    "composite": (m.DoTask, m.ForkTask),
    "emit": (m.EmitTask,),
    "for": (m.ForTask,),
    "listen": (m.ListenTask,),
    "raise": (m.RaiseTask,),
    "run": (m.RunTask,),
    "set": (m.SetTask,),
    "switch": (m.SwitchTask,),
    "try": (m.TryTask,),
    "wait": (m.WaitTask,),
}


async def extensions_for(run: TaskRun) -> list[tuple[str, m.Extension]]:
    """The extensions (dsl-reference "Extension") that apply to a task, in order,
    with their document positions. ``when`` sees the task's transformed input."""
    found = []
    for position, extension in run.instance.extensions:
        if extension.extend != "all" and not isinstance(
            run.task, _EXTENDED_KINDS[extension.extend]
        ):
            continue
        if extension.when is not None and not await run.condition(extension.when):
            continue
        found.append((position, extension))
    return found


def _extending(run: TaskRun) -> dict[str, Any]:
    return {**run.locals, EXTENDING: True}


def task_items(tasks: list[dict[str, m.AnyTask]]) -> list[tuple[str, m.AnyTask]]:
    return [next(iter(item.items())) for item in tasks]


async def run_scope(
    instance: Instance,
    tasks: list[dict[str, Any]],
    base: str,
    position_base: str,
    data: Any,
    local_vars: Mapping[str, Any],
) -> tuple[Any, str | None]:
    """Run a task list in order, following flow directives, which only look
    within this list. Return the last output and how the list was left:
    ``None`` (ran out of tasks), ``exit`` or ``end``."""
    items = task_items(tasks)
    visits: dict[int, int] = {}
    index = 0
    while index < len(items):
        now = time.monotonic()
        if now - instance.yielded_at > YIELD_AFTER_SECONDS:
            # A loop of tasks that never wait (`then:` back to itself) must still
            # let timeouts fire, signals arrive and other instances run.
            instance.yielded_at = now
            await asyncio.sleep(0)
        name, task = items[index]
        reference = f"{base}/{index}/{name}"
        position = f"{position_base}/{index}/{name}"
        # A backward `then` runs a task again: each visit is its own position.
        visit = visits[index] = visits.get(index, -1) + 1
        if visit:
            position = f"{position}~{visit}"
        data, directive = await run_task(
            instance, name, task, reference, position, data, local_vars
        )
        if directive == CONTINUE:
            index += 1
        elif directive in (EXIT, END):
            return data, directive
        else:
            index = next(i for i, (n, _) in enumerate(items) if n == directive)
    return data, None


async def run_child(
    run: TaskRun,
    tasks: list[dict[str, Any]],
    segment: str,
    data: Any,
    local_vars: Mapping[str, Any],
    mark: str = "",
) -> tuple[Any, bool]:
    """Run a task list nested in ``run`` (under ``segment`` of its definition, e.g.
    ``do`` or ``catch/do``). ``mark`` distinguishes repeated runs of that list
    (``[3]`` for an iteration, ``@1`` for an attempt) in journal positions."""
    data, flow = await run_scope(
        run.instance, tasks, f"{run.reference}/{segment}", f"{run.position}{mark}/{segment}",
        data, local_vars,
    )
    return data, flow == END


async def run_workflow(instance: Instance) -> Any:
    """Steps 1-2 and 9-11 of dsl.md "Data Flow" around the top-level ``do``."""
    workflow = instance.definition.model
    evaluator = instance.evaluator
    data = instance.raw_input
    if workflow.input is not None:
        if workflow.input.schema_ is not None:
            await instance.schemas.validate(workflow.input.schema_, data, "workflow input", "/")
        if workflow.input.from_ is not None:
            data = await evaluator.transform(
                workflow.input.from_, data, _workflow_args(instance, "workflow-input"), "/input"
            )
    instance.input = data
    # dsl.md "Data Flow" (the diagram): the transformed workflow input is also
    # the initial value of $context.
    instance.context = data
    output, _ = await run_scope(instance, workflow.do, "/do", "/do", data, {})
    await instance.journal.flush()
    if workflow.output is not None:
        if workflow.output.as_ is not None:
            output = await evaluator.transform(
                workflow.output.as_, output, _workflow_args(instance, "workflow-output"),
                "/output",
            )
        if workflow.output.schema_ is not None:
            await instance.schemas.validate(workflow.output.schema_, output, "workflow output",
                                            "/output")
    return output


def _workflow_args(instance: Instance, stage: str) -> Arguments:
    return Arguments(instance, None, stage)


async def subscription_item(
    run: TaskRun, foreach: m.SubscriptionIterator | None, segment: str, item: Any, index: int,
) -> tuple[Any, bool]:
    """One item (an event, a message) of a subscription iterator (dsl-reference
    "Subscription Iterator"): ``do`` with the item as input, then ``output``, then
    ``export``; ``segment`` is where the iterator is in the task's definition.
    Returns the item's output and whether ``then: end`` ran into."""
    if foreach is None:
        return item, False
    instance = run.instance
    local_vars = {**run.locals, foreach.item: item, foreach.at: index}
    output, ended = item, False
    if foreach.do:
        output, ended = await run_child(
            run, cast(list[dict[str, Any]], foreach.do), f"{segment}/do", item, local_vars,
            mark=f"[{index}]",
        )
    scoped = run.scoped(local_vars, item)
    if foreach.output is not None:
        where = f"{run.reference}/{segment}/output"
        if foreach.output.as_ is not None:
            output = await instance.evaluator.transform(
                foreach.output.as_, output, scoped.variables("output"), where
            )
        if foreach.output.schema_ is not None:
            await instance.schemas.validate(foreach.output.schema_, output,
                                            "subscription item output", where)
    scoped.output = output
    if foreach.export is not None:
        where = f"{run.reference}/{segment}/export"
        if foreach.export.as_ is not None:
            instance.context = await instance.evaluator.transform(
                foreach.export.as_, output, scoped.variables("export"), where
            )
        if foreach.export.schema_ is not None:
            await instance.schemas.validate(foreach.export.schema_, instance.context,
                                            "exported context", where)
    return output, ended


@contextlib.contextmanager
def waiting(run: TaskRun, *, announced: bool = False) -> Iterator[None]:
    """dsl.md "Status Phases": a task waiting (for time, for events) is `waiting`,
    and so is the workflow while any of its tasks waits (fork branches may wait
    together). ``announced``: a resumed wait whose earlier run announced it."""
    instance = run.instance
    instance.waits += 1
    if instance.waits == 1 and instance.status == "running":
        instance.status = "waiting"
        instance.lifecycle.workflow_status("waiting")
    if not announced:
        instance.lifecycle.task_status(run.reference, "waiting")
    try:
        yield
    finally:
        instance.waits -= 1
    if instance.waits == 0 and instance.status == "waiting":  # not suspended meanwhile
        instance.status = "running"
        instance.lifecycle.workflow_status("running")
    instance.lifecycle.task_status(run.reference, "running")
