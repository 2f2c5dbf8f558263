"""The DSL's errors (problem details), error filters and retry policies."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from podium.dsl.model.base import Duration, Integer, Model, OpenModel, _one_of, _uri_or_expression


class Error(Model):
    type: str
    status: Integer
    instance: str | None = None
    title: str | None = None
    detail: str | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _uri_or_expression(value)


class ErrorFilter(OpenModel):
    type: str | None = None
    status: Integer | None = None
    instance: str | None = None
    title: str | None = None
    details: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("an error filter needs at least one property")
        return data


class Backoff(Model):
    constant: dict[str, Any] | None = None
    exponential: dict[str, Any] | None = None
    linear: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Backoff:
        _one_of(self, ("constant", "exponential", "linear"), "a backoff")
        return self


class RetryAttemptLimit(Model):
    count: Integer | None = None
    duration: Duration | None = None


class RetryLimit(Model):
    attempt: RetryAttemptLimit | None = None
    duration: Duration | None = None


class Jitter(Model):
    from_: Duration = Field(alias="from")
    to: Duration


class RetryPolicy(Model):
    when: str | None = None
    except_when: str | None = Field(default=None, alias="exceptWhen")
    delay: Duration | None = None
    backoff: Backoff | None = None
    limit: RetryLimit | None = None
    jitter: Jitter | None = None
