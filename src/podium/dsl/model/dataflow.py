"""What flows in and out of a task or workflow: schemas, ``input``, ``output``
and ``export``, and TaskBase, the properties every task shares."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from podium.dsl.model.base import ExpressionOrObject, Model, TimeoutOrName
from podium.dsl.model.resources import ExternalResource


class Schema(Model):
    format: str = "json"
    document: Any = None
    resource: ExternalResource | None = None

    @model_validator(mode="after")
    def _shape(self) -> Schema:
        # `document: null` is an (empty) inline document: test presence.
        if ("document" in self.model_fields_set) == (self.resource is not None):
            raise ValueError("a schema sets exactly one of 'document' and 'resource'")
        return self


class Input(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    from_: ExpressionOrObject | None = Field(default=None, alias="from")


class Output(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    as_: ExpressionOrObject | None = Field(default=None, alias="as")


class Export(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    as_: ExpressionOrObject | None = Field(default=None, alias="as")


class TaskBase(Model):
    if_: str | None = Field(default=None, alias="if")
    input: Input | None = None
    output: Output | None = None
    export: Export | None = None
    timeout: TimeoutOrName | None = None
    then: str | None = None
    metadata: dict[str, Any] | None = None
