"""Fixtures the use-case tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from examples import use_cases

from tests.durability.workers import Workers


@pytest.fixture
def services(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """The stand-ins of the test module's use case (its ``CASE``), serving."""
    with use_cases.running(request.module.CASE) as running:
        yield running


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Worker processes (``kill -9``-able), stopped after the test."""
    found = Workers(tmp_path)
    yield found
    found.close()
