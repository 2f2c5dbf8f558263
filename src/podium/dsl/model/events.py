"""Events: their properties, the filters and consumption strategies that
listeners use, and the iterator over the events of a subscription."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from podium.dsl.model.base import (
    OBJECT,
    STRING,
    Model,
    OpenModel,
    _one_of,
    _string_or_object,
    _uri_or_expression,
)
from podium.dsl.model.dataflow import Export, Output

if TYPE_CHECKING:
    # Tasks hold subscriptions, and a subscription iterator holds tasks: the
    # tasks module rebuilds SubscriptionIterator once TaskList exists.
    from podium.dsl.model.tasks import TaskList


class EventProperties(OpenModel):
    id: str | None = None
    source: str | None = None
    type: str | None = None
    time: str | None = None
    subject: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None

    @field_validator("source", "dataschema")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else _uri_or_expression(value)


class Correlation(OpenModel):
    from_: str = Field(alias="from")
    expect: str | None = None


class EventFilter(Model):
    with_: EventProperties = Field(alias="with")
    correlate: dict[str, Correlation] | None = None

    @field_validator("with_", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise ValueError("an event filter needs at least one property in 'with'")
        return value


class EventConsumptionStrategy(Model):
    all: list[EventFilter] | None = None
    any: list[EventFilter] | None = None
    one: EventFilter | None = None
    until: (
        Annotated[
            Annotated[str, STRING] | Annotated[UntilStrategy, OBJECT],
            _string_or_object("a runtime expression or an event consumption strategy"),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _shape(self) -> EventConsumptionStrategy:
        _one_of(self, ("all", "any", "one"), "an event consumption strategy")
        if self.until is not None and self.any is None:
            raise ValueError("'until' is only allowed with 'any'")
        return self


class UntilStrategy(EventConsumptionStrategy):
    """The events that end an ``any`` listener: a strategy without its own ``until``."""

    @field_validator("until", mode="before")
    @classmethod
    def _no_until(cls, value: Any) -> Any:
        raise ValueError("a strategy nested in 'until' cannot have its own 'until'")


class SubscriptionIterator(Model):
    item: str = "item"
    at: str = "index"
    do: TaskList | None = None
    output: Output | None = None
    export: Export | None = None


class ScheduleOn(EventConsumptionStrategy):
    """``schedule.on``, and how the events that start an instance are read into
    its input: beyond the schema, which has no ``read`` here, as the events issue
    asks (the whole events, the spec's ``$workflow.input[0].data``, by default)."""

    read: Literal["data", "envelope", "raw"] | None = None
