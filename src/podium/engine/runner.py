"""The interpreter: the data flow around every task, written once, and the
walk of a task list with its flow directives (dsl.md "Task Flow", "Data Flow")."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from podium.dsl import model as m
from podium.dsl.durations import inline_seconds, iso_seconds
from podium.engine.errors import WorkflowError
from podium.engine.state import Instance, TaskRun
from podium.tasks import execute_kind

CONTINUE, EXIT, END = "continue", "exit", "end"


def duration_seconds(duration: m.DurationInline | str, run: TaskRun | None, instance: Instance,
                     where: str) -> float:
    """Seconds in a duration; an expression must evaluate to an ISO 8601 string."""
    if isinstance(duration, m.DurationInline):
        return inline_seconds(duration)
    text = duration
    if m.RUNTIME_EXPRESSION.match(text):
        data = run.input if run is not None else instance.input
        variables = run.variables("task") if run is not None else None
        value = instance.evaluator.template(text, data, variables or {}, where)
        if isinstance(value, int | float):
            return float(value)
        if not isinstance(value, str):
            raise WorkflowError.expression(
                f"duration expression '{text}' gave {value!r}, not an ISO 8601 string", where
            )
        text = value
    try:
        return iso_seconds(text)
    except ValueError as exc:
        raise WorkflowError.expression(str(exc), where) from None


def timeout_seconds(timeout: m.Timeout | str | None, instance: Instance,
                    run: TaskRun | None, where: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, str):
        timeouts = instance.definition.model.use and instance.definition.model.use.timeouts
        timeout = (timeouts or {})[timeout]  # existence is checked at load
    return duration_seconds(timeout.after, run, instance, where)


async def run_task(
    instance: Instance,
    name: str,
    task: m.AnyTask,
    reference: str,
    raw_input: Any,
    local_vars: Mapping[str, Any],
) -> tuple[Any, str]:
    """Run one task through the whole data flow; return its output and the flow
    directive to follow next."""
    run = TaskRun(instance, name, task, reference, raw_input, local_vars)
    lifecycle = instance.lifecycle
    evaluator = instance.evaluator
    lifecycle.task_event("created", "createdAt", reference, "pending")

    if task.if_ is not None and not evaluator.condition(
        task.if_, raw_input, run.variables("if"), reference
    ):
        # Skipped: the raw input becomes the output (dsl-reference "Task", `if`).
        lifecycle.task_event("completed", "completedAt", reference, "completed", output=raw_input)
        return raw_input, CONTINUE

    if not instance.running.is_set():
        # Suspended: the task waits at its start until the workflow resumes.
        lifecycle.task_event("suspended", "suspendedAt", reference, "suspended")
        await instance.running.wait()
        lifecycle.task_event("resumed", "resumedAt", reference, "running")
    lifecycle.task_event("started", "startedAt", reference, "running")
    try:
        limit = timeout_seconds(task.timeout, instance, run, reference)
        if limit is None:
            await _envelope(run)
        else:
            try:
                async with asyncio.timeout(limit):
                    await _envelope(run)
            except TimeoutError:
                raise WorkflowError.timeout(
                    f"task '{name}' did not complete within {limit:g}s", reference
                ) from None
    except WorkflowError as error:
        if error.instance is None:
            error.instance = reference
        lifecycle.task_event("faulted", "faultedAt", reference, "faulted", error=error.to_dict())
        raise
    except asyncio.CancelledError:
        lifecycle.task_event("cancelled", "cancelledAt", reference, "cancelled")
        raise
    lifecycle.task_event("completed", "completedAt", reference, "completed", output=run.output)
    if run.ended:
        return run.output, END
    return run.output, run.directive or task.then or CONTINUE


async def _envelope(run: TaskRun) -> None:
    """Steps 3-8 of dsl.md "Data Flow" around the task kind's own work."""
    task, instance, reference = run.task, run.instance, run.reference
    evaluator = instance.evaluator
    data = run.raw_input
    if task.input is not None:
        if task.input.schema_ is not None:
            await instance.schemas.validate(task.input.schema_, data, "task input", reference)
        if task.input.from_ is not None:
            data = evaluator.transform(task.input.from_, data, run.variables("input"), reference)
    run.input = data
    extensions = extensions_for(run) if instance.extensions and EXTENDING not in run.locals else ()
    bypassed = False
    for position, extension in extensions:
        if extension.before:
            output, flow = await run_scope(
                instance, extension.before, f"{position}/before", data, _extending(run)
            )
            if flow == EXIT:
                # dsl-reference "Extension": `exit` in `before` bypasses the task,
                # whose output is then what the extension produced.
                run.raw_output, bypassed = output, True
                break
    if not bypassed:
        run.raw_output = await execute_kind(task, run)
    for position, extension in extensions:
        if extension.after:
            await run_scope(instance, extension.after, f"{position}/after", run.raw_output,
                            _extending(run))
    output = run.raw_output
    if task.output is not None:
        if task.output.as_ is not None:
            output = evaluator.transform(
                task.output.as_, output, run.variables("output"), reference
            )
        run.output = output
        if task.output.schema_ is not None:
            await instance.schemas.validate(task.output.schema_, output, "task output", reference)
    run.output = output
    if task.export is not None:
        if task.export.as_ is not None:
            instance.context = evaluator.transform(
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


def extensions_for(run: TaskRun) -> list[tuple[str, m.Extension]]:
    """The extensions (dsl-reference "Extension") that apply to a task, in order,
    with their document positions. ``when`` sees the task's transformed input."""
    found = []
    for position, extension in run.instance.extensions:
        if extension.extend != "all" and not isinstance(
            run.task, _EXTENDED_KINDS[extension.extend]
        ):
            continue
        if extension.when is not None and not run.condition(extension.when):
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
    data: Any,
    local_vars: Mapping[str, Any],
) -> tuple[Any, str | None]:
    """Run a task list in order, following flow directives, which only look
    within this list. Return the last output and how the list was left:
    ``None`` (ran out of tasks), ``exit`` or ``end``."""
    items = task_items(tasks)
    index = 0
    while index < len(items):
        name, task = items[index]
        data, directive = await run_task(
            instance, name, task, f"{base}/{index}/{name}", data, local_vars
        )
        if directive == CONTINUE:
            index += 1
        elif directive in (EXIT, END):
            return data, directive
        else:
            index = next(i for i, (n, _) in enumerate(items) if n == directive)
    return data, None


async def run_tasks(
    instance: Instance,
    tasks: list[dict[str, Any]],
    base: str,
    data: Any,
    local_vars: Mapping[str, Any],
) -> tuple[Any, bool]:
    """``run_scope`` for composite tasks: the output, and whether ``end`` was reached
    (``exit`` only leaves this list)."""
    data, flow = await run_scope(instance, tasks, base, data, local_vars)
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
            data = evaluator.transform(
                workflow.input.from_, data, _workflow_args(instance, "workflow-input"), "/input"
            )
    instance.input = data
    # dsl.md "Data Flow" (the diagram): the transformed workflow input is also
    # the initial value of $context.
    instance.context = data
    output, _ = await run_tasks(instance, workflow.do, "/do", data, {})
    if workflow.output is not None:
        if workflow.output.as_ is not None:
            output = evaluator.transform(
                workflow.output.as_, output, _workflow_args(instance, "workflow-output"),
                "/output",
            )
        if workflow.output.schema_ is not None:
            await instance.schemas.validate(workflow.output.schema_, output, "workflow output",
                                            "/output")
    return output


def _workflow_args(instance: Instance, stage: str) -> Any:
    from podium.engine.state import Arguments

    return Arguments(instance, None, stage)
