"""Compiling and running one jq expression.

Every expression is compiled once (and cached) as::

    def env: {}; {} as $ENV | .[1] as [$a, $b] | .[0] | (EXPR)

so that the arguments it uses (``$context``, ``$input``, a ``for`` item, ...) are
bound positionally from one input array, and ``env``/``$ENV`` cannot reveal the
process environment. Only the variables the expression really uses are bound:
jq itself tells us which ones are free when the bare expression is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jq

_EXPRESSION = re.compile(r"^\s*\$\{(.+)\}\s*$", re.DOTALL)
_UNDEFINED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*) is not defined")
_ERROR_LINE = re.compile(r"^jq: error: (.*?)(?: at <top-level>, line \d+(?:, column \d+)?:)?$")

Variables = Mapping[str, Any]


class ExpressionSyntaxError(ValueError):
    """The text is not a valid jq program."""


def is_expression(value: object) -> bool:
    """True for a string written as ``${ ... }`` (the strict-mode form)."""
    return isinstance(value, str) and _EXPRESSION.match(value) is not None


def expression_text(value: str) -> str:
    """The jq text of an expression, with the ``${ }`` wrapper removed if present."""
    match = _EXPRESSION.match(value)
    return match.group(1).strip() if match else value.strip()


def _first_error(message: str) -> str:
    for line in message.splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match and not _UNDEFINED.search(line):
            return match.group(1)
    return message.splitlines()[0] if message else "invalid jq expression"


class Expression:
    """A compiled jq expression and the free variables it needs."""

    __slots__ = ("_program", "source", "variables")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            jq.compile(source)
            free: list[str] = []
        except ValueError as exc:
            message = str(exc)
            free = list(dict.fromkeys(_UNDEFINED.findall(message)))
            remaining = [
                line
                for line in message.splitlines()
                if line.startswith("jq: error") and not _UNDEFINED.search(line)
            ]
            if remaining or not free:
                raise ExpressionSyntaxError(_first_error(message)) from None
        self.variables: tuple[str, ...] = tuple(free)
        if free:
            binding = ", ".join("$" + name for name in free)
            program = f"def env: {{}}; {{}} as $ENV | .[1] as [{binding}] | .[0] | ({source}\n)"
        else:
            program = f"def env: {{}}; {{}} as $ENV | ({source}\n)"
        try:
            self._program = jq.compile(program)
        except ValueError as exc:  # pragma: no cover - the bare text compiled above
            raise ExpressionSyntaxError(_first_error(str(exc))) from None

    def evaluate(self, data: Any, variables: Variables) -> Any:
        """Run on ``data``; one result is returned as is, several as a list.

        Raises ``KeyError`` naming a variable the scope does not define, and
        ``ValueError`` for jq runtime errors.
        """
        if self.variables:
            values = [variables[name] for name in self.variables]
            results = self._program.input_value([data, values]).all()
        else:
            results = self._program.input_value(data).all()
        if len(results) == 1:
            return results[0]
        if not results:
            return None
        # A jq program may yield several values (``.[] | .name``); authors expect
        # all of them, so they are collected in order.
        return results


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile (once) the jq text of an expression."""
    return Expression(source)


Resolver = Callable[[str], Any]
