"""Podium: a durable runtime for the CNCF Serverless Workflow DSL 1.0.3."""

from podium._version import __version__
from podium.dsl import Definition, InvalidWorkflowError, Problem, load, validate
from podium.errors import WorkflowError
from podium.runtime import Execution, Handle, Runtime

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
