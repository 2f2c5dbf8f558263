"""Evaluating expressions and templates under the workflow's `evaluate` mode."""

from __future__ import annotations

from typing import Any

from podium.engine.errors import WorkflowError
from podium.expressions.jq import (
    ExpressionSyntaxError,
    Variables,
    compile_expression,
    expression_text,
    is_expression,
)


class Evaluator:
    """Evaluates runtime expressions for one workflow definition.

    ``strict`` (the default) evaluates only ``${ ... }`` strings inside templates;
    ``loose`` tries every string and keeps the text when it is not valid jq or
    fails (dsl-reference "Evaluate").
    """

    __slots__ = ("loose",)

    def __init__(self, mode: str = "strict") -> None:
        self.loose = mode == "loose"

    async def expression(self, text: str, data: Any, variables: Variables, where: str) -> Any:
        """Evaluate a field that always holds an expression (``if``, ``input.from``, ...)."""
        return await run(expression_text(text), data, variables, where)

    async def condition(self, text: str, data: Any, variables: Variables, where: str) -> bool:
        """Evaluate a boolean condition; anything but ``false``/``null`` is true (jq truthiness)."""
        result = await self.expression(text, data, variables, where)
        return result is not None and result is not False

    async def template(self, value: Any, data: Any, variables: Variables, where: str) -> Any:
        """Evaluate every expression found in a value (object, array or string)."""
        if isinstance(value, str):
            if is_expression(value):
                return await run(expression_text(value), data, variables, where)
            if self.loose:
                try:
                    return await run(value, data, variables, where)
                except WorkflowError:
                    return value
            return value
        if isinstance(value, dict):
            return {k: await self.template(v, data, variables, where) for k, v in value.items()}
        if isinstance(value, list):
            return [await self.template(v, data, variables, where) for v in value]
        return value

    async def transform(self, value: Any, data: Any, variables: Variables, where: str) -> Any:
        """``input.from``/``output.as``/``export.as``: a string is an expression, an
        object a template."""
        if isinstance(value, str):
            return await self.expression(value, data, variables, where)
        return await self.template(value, data, variables, where)


async def run(source: str, data: Any, variables: Variables, where: str) -> Any:
    """Compile (cached) and evaluate jq text, mapping failures to the expression error."""
    try:
        expression = compile_expression(source)
    except ExpressionSyntaxError as exc:
        raise WorkflowError.expression(f"invalid expression '{source}': {exc}", where) from None
    try:
        return expression.evaluate(data, variables)
    except KeyError as exc:
        raise WorkflowError.expression(
            f"${exc.args[0]} is not defined in '{source}'", where
        ) from None
    except ValueError as exc:
        raise WorkflowError.expression(f"'{source}' failed: {exc}", where) from None
