"""`raise`: fault with an inline or reusable error (dsl-reference "Raise")."""

from __future__ import annotations

from typing import Any, NoReturn

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


async def execute(task: m.RaiseTask, run: TaskRun) -> NoReturn:
    error = task.raise_.error
    if isinstance(error, str):
        errors = run.instance.definition.model.use and run.instance.definition.model.use.errors
        error = (errors or {})[error]  # existence is checked at load
    fields: dict[str, Any] = await run.template(error.model_dump(exclude_none=True))
    status = fields.get("status")
    if not isinstance(status, int):
        raise WorkflowError.expression(f"the raised error's status must be an integer, "
                                       f"not {status!r}", run.reference)
    raise WorkflowError(
        type=str(fields["type"]),
        status=status,
        title=_text(fields.get("title")),
        detail=_text(fields.get("detail")),
        instance=_text(fields.get("instance")) or run.reference,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
