"""Compiling expressions: free variables, error messages about the author's own
text, and the time budget a document's compile checks share."""

from __future__ import annotations

import pytest

from podium.expressions import ExpressionSyntaxError, compile_budget, compile_expression


def test_free_variables_are_found() -> None:
    assert compile_expression("$context.a + $input.b").variables == ("context", "input")
    assert compile_expression(". as $x | $x").variables == ()
    assert compile_expression("$__loc__.line").variables == ()


def test_a_syntax_error_is_about_the_authors_text() -> None:
    with pytest.raises(ExpressionSyntaxError, match="syntax error") as raised:
        compile_expression(".x +")
    assert "')'" not in str(raised.value)  # not our wrapper's closing parenthesis


def test_a_document_that_exhausts_its_compile_budget_is_refused() -> None:
    with compile_budget(0.0), pytest.raises(ExpressionSyntaxError, match="need more than"):
        compile_expression(".budgetProbe + 1")
    # A verdict on that document, not on the expression: it compiles elsewhere.
    assert compile_expression(".budgetProbe + 1").variables == ()


def test_many_expressions_share_the_budget() -> None:
    with compile_budget(0.05), pytest.raises(ExpressionSyntaxError, match="need more than"):
        for index in range(10_000):
            compile_expression(f".many{index} + 1")
