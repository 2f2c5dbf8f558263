"""Operator settings from the environment: the expression budget."""

from __future__ import annotations

import pytest

from podium.config import Settings
from podium.limits import EXPRESSION_TIMEOUT_SECONDS


def test_the_expression_budget_defaults_to_the_limit() -> None:
    assert Settings.from_env({}).expression_timeout == EXPRESSION_TIMEOUT_SECONDS


def test_the_expression_budget_from_the_environment() -> None:
    assert Settings.from_env({"PODIUM_EXPRESSION_TIMEOUT": "2.5"}).expression_timeout == 2.5


@pytest.mark.parametrize("value", ["soon", "0", "-3", "100000", "nan"])
def test_a_bad_expression_budget_names_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="PODIUM_EXPRESSION_TIMEOUT"):
        Settings.from_env({"PODIUM_EXPRESSION_TIMEOUT": value})
