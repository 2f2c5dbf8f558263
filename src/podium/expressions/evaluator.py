"""Evaluating expressions and templates under the workflow's `evaluate` mode.

A contained expression runs in-process, synchronously inside the coroutine (no
task, no thread hop: the fast path); an unbounded one runs in the sandbox,
awaited within its budgets. Either way its results are data crossing a
boundary: nested deeper than MAX_DEPTH they fault the task, and non-finite
numbers come back as jq's CLI prints them (NaN as null, infinities as
+-1.7976931348623157e+308).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Coroutine
from typing import Any

from podium.errors import WorkflowError
from podium.expressions import sandbox as sandboxing
from podium.expressions.classify import classify
from podium.expressions.jq import (
    Expression,
    ExpressionSyntaxError,
    Variables,
    cached,
    compile_expression,
    expression_text,
    finite,
    first_error,
    is_expression,
)
from podium.limits import MAX_DEPTH, depth_exceeds

_QUOTED = 80


class Evaluator:
    """Evaluates runtime expressions for one workflow definition.

    ``strict`` (the default) evaluates only ``${ ... }`` strings inside templates;
    ``loose`` tries every string and keeps the text when it is not valid jq or
    fails (dsl-reference "Evaluate"). Unbounded expressions run in ``sandbox``
    (a ``Runtime`` shares its own with every instance).
    """

    __slots__ = ("loose", "sandbox")

    def __init__(self, mode: str = "strict", sandbox: sandboxing.Sandbox | None = None) -> None:
        self.loose = mode == "loose"
        self.sandbox = sandbox if sandbox is not None else sandboxing.Sandbox()

    def expression(
        self, text: str, data: Any, variables: Variables, where: str
    ) -> Coroutine[Any, Any, Any]:
        """Evaluate a field that always holds an expression (``if``, ``input.from``, ...)."""
        return self.run(expression_text(text), data, variables, where)

    async def condition(self, text: str, data: Any, variables: Variables, where: str) -> bool:
        """Evaluate a boolean condition; anything but ``false``/``null`` is true (jq truthiness)."""
        result = await self.expression(text, data, variables, where)
        return result is not None and result is not False

    async def template(self, value: Any, data: Any, variables: Variables, where: str) -> Any:
        """Evaluate every expression found in a value (object, array or string)."""
        if isinstance(value, str):
            if is_expression(value):
                return await self.run(expression_text(value), data, variables, where)
            if self.loose:
                try:
                    return await self.run(value, data, variables, where)
                except WorkflowError:
                    return value
            return value
        if isinstance(value, dict):
            return {k: await self.template(v, data, variables, where)
                    if isinstance(v, str | dict | list) else _literal(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [await self.template(v, data, variables, where)
                    if isinstance(v, str | dict | list) else _literal(v) for v in value]
        return _literal(value)

    async def transform(self, value: Any, data: Any, variables: Variables, where: str) -> Any:
        """``input.from``/``output.as``/``export.as``: a string is an expression, an
        object a template."""
        if isinstance(value, str):
            return await self.expression(value, data, variables, where)
        return await self.template(value, data, variables, where)

    async def run(self, source: str, data: Any, variables: Variables, where: str) -> Any:
        """Compile (cached) and evaluate jq text, mapping failures to workflow errors."""
        expression = cached(source) or await _compile(source, where)
        if expression.sandbox_program is None:
            results = _in_process(expression, data, variables, where)
            if len(results) == 1 and not isinstance(results[0], dict | list):
                return results[0]  # the hot path: a scalar needs no further check
        else:
            results = await self._sandboxed(expression, data, variables, where)
        return _result(results, source, where)

    async def _sandboxed(
        self, expression: Expression, data: Any, variables: Variables, where: str
    ) -> list[Any]:
        source = expression.source
        try:
            payload = expression.payload(data, variables)
        except KeyError as exc:
            raise _undefined(exc, source, where) from None
        except RecursionError:
            raise _too_deep(source, where, "input") from None
        assert expression.sandbox_program is not None
        try:
            text = await self.sandbox.evaluate(expression.sandbox_program, payload)
        except sandboxing.BudgetExceeded as exc:
            raise WorkflowError.timeout(
                f"expression {_quote(source)} {exc} (the operator sets it with "
                "PODIUM_EXPRESSION_TIMEOUT)", where
            ) from None
        except sandboxing.ProgramError as exc:
            raise WorkflowError.expression(
                f"{_quote(source)} failed: {first_error(str(exc))}", where
            ) from None
        except sandboxing.SandboxError as exc:
            raise WorkflowError.expression(f"expression {_quote(source)} {exc}", where) from None
        try:
            results = json.loads(text)
        except RecursionError:
            raise _too_deep(source, where) from None
        assert isinstance(results, list)
        return results


def _literal(value: Any) -> Any:
    """A literal of a template: as it is, unless a non-finite number (YAML's
    `.inf`), which becomes what jq prints, so that output stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return finite(value)
    return value


async def _compile(source: str, where: str) -> Expression:
    """An expression not compiled yet (loose-mode text, a catalog's function):
    one that needs the compile child is compiled off the event loop."""
    try:
        if classify(source).heavy_compile:
            return await asyncio.to_thread(compile_expression, source)
        return compile_expression(source)
    except ExpressionSyntaxError as exc:
        raise WorkflowError.expression(
            f"invalid expression {_quote(source)}: {exc}", where
        ) from None


def _in_process(expression: Expression, data: Any, variables: Variables, where: str) -> list[Any]:
    source = expression.source
    try:
        return expression.evaluate(data, variables)
    except KeyError as exc:
        raise _undefined(exc, source, where) from None
    except ValueError as exc:
        raise WorkflowError.expression(f"{_quote(source)} failed: {exc}", where) from None
    except RecursionError:  # converting its input or its result
        raise _too_deep(source, where, "data") from None
    except MemoryError:
        raise WorkflowError.expression(
            f"expression {_quote(source)} ran out of memory", where
        ) from None


def _result(results: list[Any], source: str, where: str) -> Any:
    """One result as is, several as a list (authors expect all of them, in
    order: ``.[] | .name``), none as null; never nested beyond MAX_DEPTH."""
    if len(results) == 1:
        value = results[0]
    elif not results:
        return None
    else:
        value = results
    if isinstance(value, dict | list) and depth_exceeds(value):
        raise _too_deep(source, where)
    return value


def _too_deep(source: str, where: str, what: str = "result") -> WorkflowError:
    return WorkflowError.expression(
        f"the {what} of expression {_quote(source)} is nested deeper than {MAX_DEPTH} "
        "levels, the limit for data", where
    )


def _undefined(exc: KeyError, source: str, where: str) -> WorkflowError:
    return WorkflowError.expression(f"${exc.args[0]} is not defined in {_quote(source)}", where)


def _quote(source: str) -> str:
    if len(source) > _QUOTED:
        return f"'{source[:_QUOTED]}...'"
    return f"'{source}'"
