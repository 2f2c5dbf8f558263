"""Workflow documents with a schedule, for the scheduling tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from podium import Definition, load
from podium.runtime import Runtime

# The ``runtime_on`` fixture: ``async with runtime_on("w1") as runtime``.
Runtimes = Callable[[str], AbstractAsyncContextManager[Runtime]]


def scheduled(
    schedule: dict[str, Any] | None, version: str = "0.1.0", name: str = "nightly",
    tasks: list[dict[str, Any]] | None = None,
) -> Definition:
    """``test/<name>:<version>`` with this ``schedule`` block (None: none)."""
    document: dict[str, Any] = {
        "document": {"dsl": "1.0.3", "namespace": "test", "name": name, "version": version},
        "do": tasks or [{"report": {"set": {"done": True}}}],
    }
    if schedule is not None:
        document["schedule"] = schedule
    return load(document)
