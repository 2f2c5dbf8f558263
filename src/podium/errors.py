"""One error shape for everything that goes wrong inside a workflow.

Errors are RFC 7807 problem details (dsl-reference "Error"); ``instance`` is the
JSON pointer of the task that raised. Library exceptions are translated into a
``WorkflowError`` where the library is called, never later.

It sits in the bottom layer (ARCHITECTURE "Layers"): expressions, the egress
policy and the payload limits raise it as much as the engine does.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

SPEC_ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"
# Other spellings of the standard types, aliases of the 1.0 ones wherever a type
# is compared (catch filters) or defaulted (status, title); errors Podium raises
# keep the 1.0 spelling. dsl-reference "Standard Error Types" names the 1.0 URIs:
# - pre-1.0 drafts (and the official CTK's try scenario):
#   ``https://serverlessworkflow.io/dsl/errors/types/<kind>``;
# - the specification renamed (its main branch and CTK use these):
#   ``https://open-workflow-specification.org/spec/1.0.0/errors/<kind>``.
LEGACY_ERRORS = "https://serverlessworkflow.io/dsl/errors/types/"
OPEN_WORKFLOW_ERRORS = "https://open-workflow-specification.org/spec/1.0.0/errors/"
ALIAS_PREFIXES = (LEGACY_ERRORS, OPEN_WORKFLOW_ERRORS)

CONFIGURATION = SPEC_ERRORS + "configuration"
VALIDATION = SPEC_ERRORS + "validation"
EXPRESSION = SPEC_ERRORS + "expression"
AUTHENTICATION = SPEC_ERRORS + "authentication"
AUTHORIZATION = SPEC_ERRORS + "authorization"
TIMEOUT = SPEC_ERRORS + "timeout"
COMMUNICATION = SPEC_ERRORS + "communication"
RUNTIME = SPEC_ERRORS + "runtime"

DEFAULT_STATUS = {
    CONFIGURATION: 400,
    VALIDATION: 400,
    EXPRESSION: 400,
    AUTHENTICATION: 401,
    AUTHORIZATION: 403,
    TIMEOUT: 408,
    COMMUNICATION: 500,
    RUNTIME: 500,
}

DEFAULT_TITLE = {
    CONFIGURATION: "Configuration Error",
    VALIDATION: "Validation Error",
    EXPRESSION: "Expression Error",
    AUTHENTICATION: "Authentication Error",
    AUTHORIZATION: "Authorization Error",
    TIMEOUT: "Timeout",
    COMMUNICATION: "Communication Error",
    RUNTIME: "Runtime Error",
}


def _default_title(error_type: str, status: int) -> str:
    known = DEFAULT_TITLE.get(canonical_type(error_type))
    if known is not None:
        return known
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def canonical_type(error_type: str) -> str:
    """The 1.0 spelling of a standard error type given under one of its aliases
    (``ALIAS_PREFIXES``); any other type as it is. Only the standard kinds are
    aliased: ``<alias>/custom`` is a type of its own."""
    for prefix in ALIAS_PREFIXES:
        if error_type.startswith(prefix):
            standard = SPEC_ERRORS + error_type[len(prefix) :]
            return standard if standard in DEFAULT_STATUS else error_type
    return error_type


class WorkflowError(Exception):
    """An RFC 7807 problem raised by, or on behalf of, a workflow task."""

    def __init__(
        self,
        type: str,
        status: int | None = None,
        title: str | None = None,
        detail: str | None = None,
        instance: str | None = None,
    ) -> None:
        self.type = type
        self.status = (
            status if status is not None else DEFAULT_STATUS.get(canonical_type(type), 500)
        )
        self.title = title if title is not None else _default_title(type, self.status)
        self.detail = detail
        self.instance = instance
        super().__init__(detail or self.title or type)

    @classmethod
    def configuration(cls, detail: str, instance: str | None = None) -> WorkflowError:
        return cls(CONFIGURATION, detail=detail, instance=instance)

    @classmethod
    def validation(cls, detail: str, instance: str | None = None) -> WorkflowError:
        return cls(VALIDATION, detail=detail, instance=instance)

    @classmethod
    def expression(cls, detail: str, instance: str | None = None) -> WorkflowError:
        return cls(EXPRESSION, detail=detail, instance=instance)

    @classmethod
    def timeout(cls, detail: str, instance: str | None = None) -> WorkflowError:
        return cls(TIMEOUT, detail=detail, instance=instance)

    @classmethod
    def communication(
        cls, detail: str, status: int = 500, title: str | None = None, instance: str | None = None
    ) -> WorkflowError:
        return cls(COMMUNICATION, status=status, title=title, detail=detail, instance=instance)

    @classmethod
    def runtime(cls, detail: str, instance: str | None = None) -> WorkflowError:
        return cls(RUNTIME, detail=detail, instance=instance)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowError:
        return cls(
            type=str(data.get("type", RUNTIME)),
            status=data.get("status"),
            title=data.get("title"),
            detail=data.get("detail"),
            instance=data.get("instance"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The problem-details object, with all five members (``detail`` may be null)."""
        return {
            "type": self.type,
            "status": self.status,
            "title": self.title,
            "detail": self.detail,
            "instance": self.instance,
        }

    def __repr__(self) -> str:
        return f"WorkflowError({self.to_dict()!r})"
