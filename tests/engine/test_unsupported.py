"""Task kinds this version cannot run fault cleanly with a runtime error that
names the kind; they never crash the runtime."""

from __future__ import annotations

import textwrap

import pytest

from tests.engine.harness import ERRORS, execute, of_type

UNSUPPORTED = [
    pytest.param(
        """
        do:
          - t:
              listen:
                to:
                  one:
                    with:
                      type: com.example.ping
        """,
        "listen",
        id="listen",
    ),
]


@pytest.mark.parametrize(("body", "kind"), UNSUPPORTED)
async def test_unsupported_kind_faults_with_a_runtime_error_naming_it(
    body: str, kind: str
) -> None:
    execution, events = await execute(body)
    assert execution.status == "faulted"
    error = execution.error
    assert error is not None
    assert error.type == ERRORS + "runtime"
    assert error.status == 500
    assert error.instance == "/do/0/t"
    assert kind in (error.detail or "")
    assert "Traceback" not in (error.detail or "")
    assert "NotImplementedError" not in (error.detail or "")
    (faulted,) = of_type(events, "workflow.faulted")
    assert faulted["data"]["error"] == error.to_dict()
    assert of_type(events, "workflow.status-changed")[-1]["data"]["status"] == "faulted"


@pytest.mark.parametrize(("body", "kind"), UNSUPPORTED)
async def test_unsupported_kind_can_be_caught(body: str, kind: str) -> None:
    # The task list of `body` (below its `do:` line), moved under `try:`.
    tasks = textwrap.dedent(body).strip().split("\n", 1)[1]
    indented = textwrap.indent(tasks, " " * 6)
    wrapped = f"""
do:
  - guard:
      try:
{indented}
      catch:
        errors:
          with:
            type: {ERRORS}runtime
        as: problem
        do:
          - report:
              set:
                caught: ${{ $problem.detail }}
"""
    execution, _ = await execute(wrapped)
    assert execution.status == "completed", execution.error
    assert kind in execution.output["caught"]
