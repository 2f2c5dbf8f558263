"""`fork`: run branches concurrently (dsl-reference "Fork").

Without `compete`, the output is the array of branch outputs in declaration
order, and the first fault cancels the other branches. With `compete`, the
first branch to complete wins, its output is the fork's, and the others are
cancelled; the fork faults only if every branch faults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


async def execute(task: m.ForkTask, run: TaskRun) -> Any:
    items = runner.task_items(task.fork.branches)
    base = f"{run.reference}/fork/branches"
    position_base = f"{run.position}/fork/branches"
    branches = [
        asyncio.ensure_future(
            runner.run_task(run.instance, name, branch, f"{base}/{i}/{name}",
                            f"{position_base}/{i}/{name}", run.input, run.locals)
        )
        for i, (name, branch) in enumerate(items)
    ]
    try:
        if task.fork.compete:
            return await _compete(branches, run)
        return await _join(branches, run)
    finally:
        for branch in branches:
            if not branch.done():
                branch.cancel()
        await asyncio.gather(*branches, return_exceptions=True)


async def _join(branches: Sequence[asyncio.Future[tuple[Any, str]]], run: TaskRun) -> list[Any]:
    pending = set(branches)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for branch in done:
            if branch.exception() is not None:
                raise branch.exception()  # type: ignore[misc]
    outputs = []
    for branch in branches:
        output, directive = branch.result()
        run.ended = run.ended or directive == runner.END
        outputs.append(output)
    return outputs


async def _compete(branches: Sequence[asyncio.Future[tuple[Any, str]]], run: TaskRun) -> Any:
    pending = set(branches)
    first_error: BaseException | None = None
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        # Several may finish in the same loop turn: the earliest declared wins.
        for branch in sorted(done, key=branches.index):
            error = branch.exception()
            if error is None:
                output, directive = branch.result()
                run.ended = directive == runner.END
                return output
            if not isinstance(error, WorkflowError):
                raise error  # not a branch's fault: it ends the instance
            first_error = first_error or error
    if isinstance(first_error, WorkflowError):
        raise first_error
    raise WorkflowError.runtime("every competing branch failed", run.reference)
