"""The input of a new instance, whatever the entry point (``Runtime.start`` in memory
or on a store, ``create_instance`` as ``podium start`` and subflows use it): JSON
data within the limits, or a validation error before anything is recorded or run
(issue 7, item 1: an input nested 1,000 levels crashed ``start`` and ``run``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError, load
from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES
from podium.store import open_store
from tests.support.spec import REPO

HELLO = load(REPO / "examples" / "hello.yaml")
VALIDATION = "https://serverlessworkflow.io/spec/1.0.0/errors/validation"


def nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


BAD = {
    "nested-1000": ({"name": "Ada", "v": nested(1000)},
                    "/v" + "/0" * (MAX_DEPTH - 1) + f": nested deeper than {MAX_DEPTH} levels"),
    "nested-100000": (nested(100_000), "/0" * MAX_DEPTH + f": nested deeper than {MAX_DEPTH} "
                                                          "levels"),
    "too-large": ({"name": "x" * MAX_PAYLOAD_BYTES},
                  f"{MAX_PAYLOAD_BYTES + 11:,} bytes of JSON, more than the limit of "
                  f"{MAX_PAYLOAD_BYTES:,}"),
    "nan": ({"name": float("nan")}, "/name: nan is not a JSON number (JSON has no NaN or "
                                    "infinity)"),
    "not-json": ({"name": {1, 2}}, "/name: a set is not JSON data"),
}


def refused(caught: pytest.ExceptionInfo[WorkflowError], message: str) -> None:
    assert caught.value.to_dict() == {
        "type": VALIDATION, "status": 400, "title": "Validation Error",
        "detail": f"the workflow input is refused: {message}", "instance": "/",
    }


@pytest.mark.parametrize(("data", "message"), BAD.values(), ids=BAD.keys())
async def test_start_in_memory_refuses_an_input_beyond_the_limits(
    data: Any, message: str
) -> None:
    async with asyncio.timeout(30), Runtime() as runtime:
        with pytest.raises(WorkflowError) as caught:
            await runtime.start(HELLO, data)
        refused(caught, message)
        with pytest.raises(WorkflowError):
            await runtime.execute(HELLO, data)


@pytest.mark.parametrize(("data", "message"), BAD.values(), ids=BAD.keys())
async def test_nothing_is_recorded_for_a_refused_input(
    data: Any, message: str, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'podium.db'}")
    await store.open()
    try:
        async with asyncio.timeout(30), Runtime(store=store) as runtime:
            with pytest.raises(WorkflowError) as caught:
                await runtime.start(HELLO, data)
            refused(caught, message)
            with pytest.raises(WorkflowError) as caught:
                await runtime.create_instance(HELLO, data)  # what `podium start` calls
            refused(caught, message)
            assert await store.list_instances() == []
    finally:
        await store.close()


async def test_an_input_within_the_limits_runs() -> None:
    async with asyncio.timeout(30), Runtime() as runtime:
        data = {"name": "Ada", "v": nested(MAX_DEPTH - 1), "t": (1, 2)}
        assert await runtime.run(HELLO, data) == {"greeting": "Hello, Ada!"}
