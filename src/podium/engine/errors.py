"""The error shape, under the name the engine's modules (and most others) import it by.

It lives in ``podium.errors``, below expressions, which raise it too
(ARCHITECTURE "Layers"); modules of the bottom layer import it from there.
"""

from __future__ import annotations

from podium.errors import (
    ALIAS_PREFIXES,
    AUTHENTICATION,
    AUTHORIZATION,
    COMMUNICATION,
    CONFIGURATION,
    DEFAULT_STATUS,
    DEFAULT_TITLE,
    EXPRESSION,
    LEGACY_ERRORS,
    OPEN_WORKFLOW_ERRORS,
    RUNTIME,
    SPEC_ERRORS,
    TIMEOUT,
    VALIDATION,
    WorkflowError,
    canonical_type,
)

__all__ = [
    "ALIAS_PREFIXES",
    "AUTHENTICATION",
    "AUTHORIZATION",
    "COMMUNICATION",
    "CONFIGURATION",
    "DEFAULT_STATUS",
    "DEFAULT_TITLE",
    "EXPRESSION",
    "LEGACY_ERRORS",
    "OPEN_WORKFLOW_ERRORS",
    "RUNTIME",
    "SPEC_ERRORS",
    "TIMEOUT",
    "VALIDATION",
    "WorkflowError",
    "canonical_type",
]
