"""Which instances a request is about: one model of filters for a listing's query
string, a live stream's, and the body of bulk actions and purges, turned into the
store's ``InstanceQuery``. A filter the store cannot take (a time without its
offset, a time out of range, text with NUL, which PostgreSQL refuses) is refused
here, as a 422 naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from podium.registry import WorkflowName
from podium.store import CURSOR_PATTERN, InstanceQuery

Status = Literal["pending", "running", "waiting", "suspended", "completed", "faulted", "cancelled"]

# Sequence numbers and counts fit in a 64-bit column; larger ones are refused.
MAX_INTEGER = 2**62


# Text without NUL (PostgreSQL refuses it in text), said in the OpenAPI document too.
NO_NUL = r"^[^\u0000]*$"


def _written(value: Any) -> Any:
    """Pydantic would take a number (or a numeric string) for a Unix time; the
    document promises RFC 3339 text."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
    raise ValueError("must be an RFC 3339 time, such as 2026-01-31T12:00:00Z")


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("is out of range in UTC") from None


Moment = Annotated[
    AwareDatetime, BeforeValidator(_written), AfterValidator(_in_utc),
    Field(description="RFC 3339 time with its offset, e.g. 2026-01-31T12:00:00Z"),
]
Text = Annotated[str, Field(pattern=NO_NUL)]
# namespace/name (registry.WorkflowName without a version), as a pattern for clients.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
WORKFLOW_FILTER = rf"^{_LABEL}/{_LABEL}$"
WORKFLOW_PATTERN = rf"^{_LABEL}/{_LABEL}(?::[0-9A-Za-z.+-]+)?$"  # with an optional version


class InstanceFilter(BaseModel):
    """Every filter given must hold; times are inclusive bounds."""

    status: Status | None = None
    workflow: Annotated[str, Field(pattern=WORKFLOW_FILTER)] | None = Field(
        default=None, description="namespace/name (a version: `version`)")
    version: Text | None = None
    key: Text | None = Field(default=None, description="the idempotency key, exactly")
    created_after: Moment | None = None
    created_before: Moment | None = None
    ended_after: Moment | None = None
    ended_before: Moment | None = None
    q: Annotated[Text, Field(max_length=200)] | None = Field(
        default=None, description="a part of the id or of the key, any case")

    def query(self, limit: int, after: tuple[datetime, str] | None = None) -> InstanceQuery:
        named = WorkflowName.parse(self.workflow) if self.workflow else None
        return InstanceQuery(
            status=self.status,
            namespace=named.namespace if named else None,
            name=named.name if named else None,
            version=self.version,
            key=self.key,
            created_after=self.created_after, created_before=self.created_before,
            ended_after=self.ended_after, ended_before=self.ended_before,
            search=self.q or None,
            after=after, limit=limit,
        )


class InstanceListing(InstanceFilter):
    """The query string of ``GET /instances``."""

    limit: int = Field(default=100, ge=1, le=1000, description="instances per page")
    cursor: Annotated[str, Field(pattern=CURSOR_PATTERN)] | None = Field(
        default=None, description="the `next` of the previous page, as it was")


def _chosen(data: Any) -> Any:
    if isinstance(data, dict) and not (data.get("status") or data.get("workflow")):
        raise ValueError("give status or workflow (or both): an action on every instance "
                         "is not done by accident")
    return data


# The same rule for clients reading the OpenAPI document.
_STATUS_OR_WORKFLOW: dict[str, Any] = {"anyOf": [
    {"required": ["status"], "properties": {"status": {"type": "string"}}},
    {"required": ["workflow"], "properties": {"workflow": {"type": "string"}}},
]}


class BulkRequest(InstanceFilter):
    """The instances a bulk action acts on, at most ``max`` of them, newest first."""

    # A misspelt filter must not widen the choice.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_STATUS_OR_WORKFLOW)

    max: int = Field(default=1000, ge=1, le=10_000,
                     description="how many instances at most (repeat for more)")

    @model_validator(mode="before")
    @classmethod
    def _narrowed(cls, data: Any) -> Any:
        return _chosen(data)


class PurgeRequest(InstanceFilter):
    """The ended instances to purge: those ended before ``ended_before``, of the
    other filters, at most ``max`` of them."""

    model_config = ConfigDict(extra="forbid")

    ended_before: Moment
    max: int = Field(default=1000, ge=1, le=10_000,
                     description="how many instances at most (repeat for more)")
