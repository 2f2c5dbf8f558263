"""The foundations of the model: the strict base classes, the patterns and
validators the schema relies on, and durations and timeouts, which every other
part of the model uses."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from podium.dsl.durations import (
    ISO_DURATION,
    LIMIT_TEXT,
    inline_milliseconds,
    iso_seconds,
    too_long,
)
from podium.limits import MAX_DURATION_SECONDS

# The marker that tags a branch of a discriminated union; loader errors drop
# path elements that start with it, so pointers match the document.
TAG = "\u27e8"

SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
NAME = r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
# Tells an expression from text at run time; a multi-line `${ }` is one too.
RUNTIME_EXPRESSION = re.compile(r"^\s*\$\{.+\}\s*$", re.DOTALL)
# The schema's `runtimeExpression` pattern, where a value *must* be an expression
# (endpoints, durations, ...): like the schema, `.` stops at a line break.
SCHEMA_EXPRESSION = re.compile(r"^\s*\$\{.+\}\s*$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*://.*")


def _expression(value: str) -> str:
    if SCHEMA_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is not a runtime expression (${{ ... }})")


def _matching(pattern: str, what: str) -> AfterValidator:
    # Python's `re`, as the schema's validators use, rather than pydantic's own
    # regex engine: `$` and `\d` then mean the same on both sides.
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.match(value):
            return value
        raise ValueError(f"'{value}' is not {what}")

    return AfterValidator(check)


RuntimeExpression = Annotated[str, AfterValidator(_expression)]
SemVer = Annotated[str, _matching(SEMVER, "a semantic version (e.g. 1.0.0)")]
Name = Annotated[
    str,
    _matching(NAME, "a valid name (1 to 63 letters, digits or '-', starting and ending with a "
                    "letter or digit)"),
]

# Where the schema allows "a string or an object", the branch is picked by the
# JSON type, as tasks are picked by their key: a wrong value gives one error
# in the words of the DSL, not one per branch.
STRING = Tag(TAG + "string")
OBJECT = Tag(TAG + "object")


def _json_type(value: Any) -> str | None:
    if isinstance(value, str):
        return TAG + "string"
    if isinstance(value, dict | BaseModel):
        return TAG + "object"
    return None


def _string_or_object(what: str) -> Discriminator:
    return Discriminator(
        _json_type, custom_error_type="type", custom_error_message=f"must be {what}"
    )


ExpressionOrObject = Annotated[
    Annotated[str, STRING] | Annotated[dict[str, Any], OBJECT],
    _string_or_object("a runtime expression (a string) or an object"),
]


def _integral(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_integral)]

# Strict: the schema does not coerce ("400" is no integer, "true" no boolean).
_CONFIG = ConfigDict(frozen=True, populate_by_name=True, strict=True, defer_build=True)


class _Base(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        # An optional property may be left out, never set to null: the schema
        # types no property as null, except the untyped ones (`Any` here).
        if (
            value is None
            and info.field_name is not None
            and cls.model_fields[info.field_name].annotation is not Any
        ):
            raise ValueError("must not be null (leave the property out instead)")
        return value


class Model(_Base):
    model_config = ConfigDict(**_CONFIG, extra="forbid")


class OpenModel(_Base):
    """An object whose additional properties the schema allows."""

    model_config = ConfigDict(**_CONFIG, extra="allow")


def _one_of(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    present = [n for n in names if getattr(model, n) is not None]
    if len(present) != 1:
        keys = ", ".join(f"'{n.rstrip('_')}'" for n in names)
        found = ", ".join(f"'{n.rstrip('_')}'" for n in present) or "none"
        raise ValueError(f"{what} must set exactly one of {keys} (found {found})")


def _uri_or_expression(value: str) -> str:
    if URI.match(value) or SCHEMA_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is not an absolute URI (scheme://...) nor a runtime expression")


def _uri(value: str) -> str:
    if URI.match(value):
        return value
    raise ValueError(f"'{value}' is not an absolute URI (scheme://...)")


def _one_named(what: str) -> BeforeValidator:
    """An item of a list of named things (tasks, cases, extensions) is a mapping
    with exactly one key; the error points at the item."""

    def check(value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise ValueError(f"a list item must name one {what} (found none)")
        if isinstance(value, dict) and len(value) > 1:
            found = ", ".join(repr(k) for k in value)
            raise ValueError(
                f"a list item holds exactly one named {what}, found {len(value)} ({found}): "
                f"start each {what} with its own '-'"
            )
        return value

    return BeforeValidator(check)



# --- durations and timeouts ---------------------------------------------------


class DurationInline(Model):
    days: Integer | None = None
    hours: Integer | None = None
    minutes: Integer | None = None
    seconds: Integer | None = None
    milliseconds: Integer | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> DurationInline:
        parts = self.model_dump()
        if all(v is None for v in parts.values()):
            raise ValueError("a duration needs at least one of days, hours, minutes, seconds, "
                             "milliseconds")
        # Literal durations are bounded at load: a timer of 10^9 days would overflow
        # the clock arithmetic at run time (README "Limits").
        if inline_milliseconds(parts) > MAX_DURATION_SECONDS * 1000:
            written = ", ".join(f"{k}: {_digits(v)}" for k, v in parts.items() if v is not None)
            raise ValueError(f"{{{written}}} is longer than {LIMIT_TEXT}, the longest duration "
                             "allowed")
        return self


def _digits(number: int) -> str:
    text = str(number)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"


def _duration_string(value: str) -> str:
    if ISO_DURATION.match(value):
        if too_long(iso_seconds(value)):
            raise ValueError(f"{value} is longer than {LIMIT_TEXT}, the longest duration allowed")
        return value
    if SCHEMA_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is neither an ISO 8601 duration (e.g. PT30S) nor an expression")


Duration = Annotated[
    Annotated[DurationInline, OBJECT] | Annotated[str, AfterValidator(_duration_string), STRING],
    _string_or_object("an ISO 8601 duration (e.g. PT30S), a runtime expression, or an object "
                      "of days, hours, minutes, seconds, milliseconds"),
]


class Timeout(Model):
    after: Duration


TimeoutOrName = Annotated[
    Annotated[Timeout, OBJECT] | Annotated[str, STRING],
    _string_or_object("a timeout (an object with 'after') or the name of one in use.timeouts"),
]
