"""Compiling one jq expression, and running it in-process when that is safe.

Every expression is compiled once (and cached) as::

    def env: {}; {} as $ENV | .[1] as [$a, $b] | .[0] | (EXPR)

so that the arguments it uses (``$context``, ``$input``, a ``for`` item, ...) are
bound positionally from one input array, and ``env``/``$ENV`` cannot reveal the
process environment. Only the variables the expression really uses are bound:
jq itself tells us which ones are free when the bare expression is compiled.

The classifier (``podium.expressions.classify``) decides where it runs: a
contained program in-process (compiled here), an unbounded one in the sandbox
(``sandbox_program``, never compiled in-process when its constants could make
libjq fold a huge value at compile time).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import jq

from podium import jsontext
from podium.expressions import sandbox
from podium.expressions.classify import Shape, classify
from podium.limits import DOCUMENT_COMPILE_SECONDS, EXPRESSION_COMPILE_SECONDS, MAX_PAYLOAD_BYTES

_EXPRESSION = re.compile(r"^\s*\$\{(.+)\}\s*$", re.DOTALL)
_UNDEFINED = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*) is not defined")
_ERROR_LINE = re.compile(r"^jq: error: (.*?)(?: at <top-level>, line \d+(?:, column \d+)?:)?$")

Variables = Mapping[str, Any]

# `"text" * n` repeats a string: capped, so that a program cannot allocate
# gigabytes in one step. Operators compile to calls of `_multiply`, bound
# lexically, so this definition takes over `*` (and `*=`) in the program that
# follows, keeping jq's own order of evaluation: the right operand's values in
# the outer loop. Constant operands are folded by libjq before any definition
# applies: those programs are compiled and run in a child (see classify).
MULTIPLY_PRELUDE = (
    "def _podium_multiply(a; b): _multiply(a; b); "
    "def _multiply(a; b): b as $b | a as $a | "
    'if (($a | type) == "string" and ($b | type) == "number" '
    f"and _podium_multiply($a | utf8bytelength; $b) > {MAX_PAYLOAD_BYTES}) "
    'or (($a | type) == "number" and ($b | type) == "string" '
    f"and _podium_multiply($b | utf8bytelength; $a) > {MAX_PAYLOAD_BYTES}) "
    f'then error("repeating a string beyond {MAX_PAYLOAD_BYTES} bytes") '
    "else _podium_multiply($a; $b) end; "
)


class ExpressionSyntaxError(ValueError):
    """The text is not a valid jq program (or one this runtime refuses)."""


class _NotCached(ExpressionSyntaxError):
    """A refusal that says nothing of the expression itself (the document ran out
    of compile budget, no process could start to check it): never cached."""


def is_expression(value: object) -> bool:
    """True for a string written as ``${ ... }`` (the strict-mode form)."""
    return isinstance(value, str) and _EXPRESSION.match(value) is not None


def expression_text(value: str) -> str:
    """The jq text of an expression, with the ``${ }`` wrapper removed if present."""
    match = _EXPRESSION.match(value)
    return match.group(1).strip() if match else value.strip()


def _own_error(source: str, message: str, heavy: bool = False,
               seconds: float = EXPRESSION_COMPILE_SECONDS) -> str:
    """The error of the author's own text rather than of our wrapper around it
    (whose closing parenthesis jq may mention)."""
    own = _errors(source, heavy, seconds)
    return first_error(own if own is not None else message)


def first_error(message: str) -> str:
    """The first error jq reports, without its location in our wrapper."""
    for line in message.splitlines():
        match = _ERROR_LINE.match(line.strip())
        if match and not _UNDEFINED.search(line):
            return match.group(1)
    return message.splitlines()[0] if message else "invalid jq expression"


def _errors(program: str, heavy: bool, seconds: float) -> str | None:
    """jq's compile errors for ``program`` (None when it compiles). A heavy one
    compiles in the compile child, within ``seconds`` and the memory budget."""
    if heavy:
        try:
            return sandbox.check_compile(program, seconds)
        except sandbox.Unavailable as exc:
            raise _NotCached(f"cannot be checked: it {exc}") from None
        except sandbox.SandboxError as exc:
            raise ExpressionSyntaxError(
                f"too expensive to compile: compiling it {exc} (libjq computes constant "
                "operations such as string repetition while compiling)"
            ) from None
    try:
        jq.compile(program)
    except ValueError as exc:
        return str(exc)
    return None


class Expression:
    """A compiled jq expression, the free variables it needs, and where it runs."""

    __slots__ = ("_program", "sandbox_program", "shape", "source", "variables")

    def __init__(self, source: str, seconds: float = EXPRESSION_COMPILE_SECONDS) -> None:
        self.source = source
        shape: Shape = classify(source)
        if shape.refused:
            raise ExpressionSyntaxError(shape.refused)
        self.shape = shape
        heavy = shape.heavy_compile
        free: list[str] = []
        if shape.variables:
            # jq names the free variables when the bare text compiles without them.
            message = _errors(source, heavy, seconds)
            if message is not None:
                free = list(dict.fromkeys(_UNDEFINED.findall(message)))
                remaining = [
                    line
                    for line in message.splitlines()
                    if line.startswith("jq: error") and not _UNDEFINED.search(line)
                ]
                if remaining or not free:
                    raise ExpressionSyntaxError(first_error(message))
        self.variables: tuple[str, ...] = tuple(free)
        prelude = "def env: {}; " + (MULTIPLY_PRELUDE if shape.multiplies else "") + \
            "{} as $ENV | "
        binding = ", ".join("$" + name for name in free)
        self._program: Any = None
        self.sandbox_program: str | None = None
        if shape.contained:
            if free:
                program = f"{prelude}.[1] as [{binding}] | .[0] | ({source}\n)"
            else:
                program = f"{prelude}({source}\n)"
            try:
                self._program = jq.compile(program)
            except ValueError as exc:
                raise ExpressionSyntaxError(_own_error(source, str(exc))) from None
            return
        # The sandbox always gets [data, [values...]] and answers with JSON text,
        # which jq writes as its CLI does (NaN as null, infinities as +-DBL_MAX).
        bound = f".[1] as [{binding}] | " if free else ""
        self.sandbox_program = f"{prelude}[{bound}.[0] | ({source}\n)] | tojson"
        if heavy and shape.variables:
            return  # compiled above, in the child: only its variables were missing
        message = _errors(self.sandbox_program, heavy, seconds)
        if message is not None:
            raise ExpressionSyntaxError(_own_error(source, message, heavy, seconds))

    def values(self, variables: Variables) -> list[Any]:
        """The free variables' values; ``KeyError`` names one the scope lacks."""
        return [variables[name] for name in self.variables]

    def evaluate(self, data: Any, variables: Variables) -> list[Any]:
        """Run in-process on ``data`` (contained programs only): every result.

        Raises ``KeyError`` naming a variable the scope does not define, and
        ``ValueError`` for jq runtime errors.
        """
        # What ``input_value`` would send (``json.dumps``), faster (podium.jsontext).
        value = [data, self.values(variables)] if self.variables else data
        results: list[Any] = self._program.input_text(jsontext.dumps(value, json.dumps)).all()
        return results

    def payload(self, data: Any, variables: Variables) -> bytes:
        """The sandbox's input: ``[data, [values...]]`` as JSON."""
        return dumps([data, self.values(variables)]).encode()


def dumps(value: Any) -> str:
    """JSON text; non-finite numbers as jq prints them (data normally has none)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(finite(value), separators=(",", ":"), ensure_ascii=False)


def finite(value: Any) -> Any:
    """``value`` with NaN as null and infinities as +-DBL_MAX, as jq's CLI prints
    them (README "Expressions")."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return math.copysign(1.7976931348623157e308, value)
        return value
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


# Compiled expressions, and the verdict on those that do not compile, by source:
# a compile bomb is judged once, not at every load of its document.
_CACHE_SIZE = 4096
_compiled: dict[str, Expression] = {}
_refused: dict[str, str] = {}


_OVER_BUDGET = (
    f"the document's expressions need more than {DOCUMENT_COMPILE_SECONDS:g}s to compile"
)

# Seconds of compiling that the document being loaded may still spend.
_budget: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "podium_compile_budget", default=None
)


@contextlib.contextmanager
def compile_budget(seconds: float = DOCUMENT_COMPILE_SECONDS) -> Iterator[None]:
    """Bound the time spent compiling the expressions of one document (in-process
    and in the compile child alike): validating any document stays within a fixed
    time, however many expressions it holds or however costly their constants."""
    token = _budget.set([seconds])
    try:
        yield
    finally:
        _budget.reset(token)


# The compiled expression of a source, if any (a bound method: no Python frame).
cached = _compiled.get


def compile_expression(source: str) -> Expression:
    """Compile (once) the jq text of an expression."""
    expression = _compiled.get(source)
    if expression is not None:
        return expression
    refused = _refused.get(source)
    if refused is not None:
        raise ExpressionSyntaxError(refused)
    budget = _budget.get()
    seconds = EXPRESSION_COMPILE_SECONDS
    if budget is not None:
        if budget[0] <= 0:
            raise _NotCached(_OVER_BUDGET)
        seconds = min(seconds, budget[0])
    started = time.monotonic()
    try:
        expression = Expression(source, seconds)
    except _NotCached:
        raise
    except ExpressionSyntaxError as exc:
        if seconds < EXPRESSION_COMPILE_SECONDS and time.monotonic() - started >= seconds:
            raise _NotCached(_OVER_BUDGET) from None  # the document's budget ran out
        _remember(_refused, source, str(exc))
        raise
    finally:
        if budget is not None:
            budget[0] -= time.monotonic() - started
    _remember(_compiled, source, expression)
    return expression


def _remember(cache: dict[str, Any], source: str, value: Any) -> None:
    """Add to a bounded cache, forgetting the oldest entry (compiles may run in
    several threads: a lost race only forgets another entry or none)."""
    if len(cache) >= _CACHE_SIZE:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del cache[next(iter(cache))]
    cache[source] = value

