"""`for`: run subtasks for each item of a collection; the output of one
iteration is the input of the next (dsl-reference "For")."""

from __future__ import annotations

from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


async def execute(task: m.ForTask, run: TaskRun) -> Any:
    collection = await run.expression(task.for_.in_)
    if collection is None:
        items: list[tuple[Any, Any]] = []
    elif isinstance(collection, list):
        items = list(enumerate(collection))
    elif isinstance(collection, dict):
        # An object is enumerated by its entries: `at` holds the key.
        items = list(collection.items())
    else:
        raise WorkflowError.expression(
            f"'for.in' must give an array or an object, not {type(collection).__name__}",
            run.reference,
        )
    data = run.input
    for iteration, (index, item) in enumerate(items):
        local_vars = {**run.locals, task.for_.each: item, task.for_.at: index}
        # `while` sees the current item and the data so far.
        if task.while_ is not None and not await run.scoped(local_vars, data).condition(
            task.while_
        ):
            break
        data, ended = await runner.run_child(
            run, task.do, "do", data, local_vars, mark=f"[{iteration}]"
        )
        if ended:
            run.ended = True
            break
    return data
