"""Nothing unexpected leaves an instance running (issue 7, item 1): an exception
that is not a workflow's error (a bug, RecursionError, MemoryError, a library
error nobody translated) ends the instance faulted with a runtime error saying
so; the traceback goes to the `podium` log, never to the user's output."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import load
from podium.dsl import model as m
from podium.engine.state import TaskRun
from podium.tasks import _KINDS
from tests.durability.helpers import ended, runtime_on, working
from tests.engine.harness import ERRORS, fault, workflow

RUNTIME = ERRORS + "runtime"


@pytest.fixture
def broken_set(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[type[BaseException]]]:
    """`set` tasks whose value is `boom` raise the exception type given."""
    raising: list[type[BaseException]] = [RuntimeError]
    original = _KINDS[m.SetTask]

    async def execute(task: m.SetTask, run: TaskRun) -> Any:
        if task.set == {"v": "boom"}:
            raise raising[0]("something broke inside")
        return await original(task, run)

    monkeypatch.setitem(_KINDS, m.SetTask, execute)
    yield raising


BODY = """
do:
  - fine:
      set: {v: ok}
  - group:
      do:
        - broken:
            set: {v: boom}
"""


@pytest.mark.parametrize("kind", [RuntimeError, RecursionError, MemoryError, KeyError])
async def test_an_unexpected_exception_faults_the_instance(
    broken_set: list[type[BaseException]], kind: type[BaseException],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken_set[0] = kind
    with caplog.at_level(logging.ERROR, logger="podium"):
        error = await fault(BODY)
    assert error.type == RUNTIME
    assert error.status == 500
    assert error.instance == "/do/1/group/do/0/broken"
    detail = error.detail or ""
    if kind is MemoryError:  # the machine's doing, not a bug: said so
        assert detail.startswith("the instance ran out of memory in task /do/1/group/do/0/broken")
    else:
        assert detail.startswith(
            f"internal error: {kind.__name__} in task /do/1/group/do/0/broken"
        )
    assert "Traceback" not in detail
    logged = [r for r in caplog.records if r.name.startswith("podium")]
    assert logged and logged[0].exc_info is not None  # the traceback is the operator's


async def test_an_internal_error_is_not_caught_by_try(
    broken_set: list[type[BaseException]],
) -> None:
    error = await fault("""
    do:
      - guarded:
          try:
            - broken:
                set: {v: boom}
          catch: {}
    """)
    assert error.type == RUNTIME
    assert "internal error: RuntimeError" in (error.detail or "")


async def test_under_a_worker_the_instance_ends_faulted(
    broken_set: list[type[BaseException]], tmp_path: Path,
) -> None:
    # It used to stay `running` forever ("Task exception was never retrieved").
    url = f"sqlite:///{tmp_path / 'podium.db'}"
    async with runtime_on(url, "w1") as rt:
        record, _ = await rt.create_instance(load(workflow(BODY)), {})
        async with working(rt):
            assert rt.store is not None
            final = await ended(rt.store, record.id)
    assert final.status == "faulted"
    assert final.error is not None
    assert final.error["type"] == RUNTIME
    assert "internal error: RuntimeError" in final.error["detail"]
