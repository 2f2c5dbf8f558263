"""Podium: a durable runtime for the CNCF Serverless Workflow DSL 1.0.3.

The public names are imported when first used (PEP 562), so ``import podium.cli``
and ``podium --version`` do not pay for the DSL models and the runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from podium._version import __version__

if TYPE_CHECKING:
    from podium.dsl import Definition, InvalidWorkflowError, Problem, load, validate
    from podium.errors import WorkflowError
    from podium.runtime import Execution, Handle, Runtime

# name -> the module that defines it
_PUBLIC = {
    "Definition": "podium.dsl",
    "InvalidWorkflowError": "podium.dsl",
    "Problem": "podium.dsl",
    "load": "podium.dsl",
    "validate": "podium.dsl",
    "WorkflowError": "podium.errors",
    "Execution": "podium.runtime",
    "Handle": "podium.runtime",
    "Runtime": "podium.runtime",
}

__all__ = [
    "Definition",
    "Execution",
    "Handle",
    "InvalidWorkflowError",
    "Problem",
    "Runtime",
    "WorkflowError",
    "__version__",
    "load",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'podium' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
