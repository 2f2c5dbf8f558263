"""Runtime expressions (dsl.md "Runtime Expressions"): jq, compiled once."""

from podium.expressions.evaluator import Evaluator
from podium.expressions.jq import (
    Expression,
    ExpressionSyntaxError,
    Variables,
    compile_budget,
    compile_expression,
    expression_text,
    is_expression,
)

__all__ = [
    "Evaluator",
    "Expression",
    "ExpressionSyntaxError",
    "Variables",
    "compile_budget",
    "compile_expression",
    "expression_text",
    "is_expression",
]
