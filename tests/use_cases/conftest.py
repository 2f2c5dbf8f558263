"""Fixtures the use-case tests share."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from examples import use_cases

# Worker processes (kill -9-able), as the crash tests use them.
from tests.durability.conftest import workers  # noqa: F401


@pytest.fixture
def services(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """The stand-ins of the test module's use case (its ``CASE``), serving."""
    with use_cases.running(request.module.CASE) as running:
        yield running
