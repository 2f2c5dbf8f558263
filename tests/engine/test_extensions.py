"""`use.extensions` (dsl-reference "Extension")."""

from __future__ import annotations

from typing import Any

from podium import Runtime

DOC = """
document: {dsl: '1.0.3', namespace: test, name: ext, version: '1.0.0'}
use:
  extensions:
    - mock:
        extend: call
        when: '.mock == true'
        before:
          - inject:
              set: {mocked: true}
              then: exit
    - audit:
        extend: all
        before:
          - noteBefore: {set: {ignored: true}}
        after:
          - noteAfter: {set: {ignored: true}}
do:
  - callService:
      call: http
      with: {method: get, endpoint: {uri: 'http://127.0.0.1:9/never'}}
  - keep: {set: {result: '${ . }'}}
"""


async def run(data: Any) -> tuple[Any, list[str]]:
    events: list[dict[str, Any]] = []
    async with Runtime(listeners=[events.append]) as runtime:
        execution = await runtime.execute(DOC, data)
    started = [e["data"]["task"] for e in events if e["type"].endswith("task.started.v1")]
    return execution, started


async def test_exit_in_before_bypasses_the_task_with_the_extension_output() -> None:
    execution, started = await run({"mock": True})
    assert execution.status == "completed"
    assert execution.output == {"result": {"mocked": True}}
    assert "/use/extensions/0/mock/before/0/inject" in started


async def test_before_and_after_run_around_every_task_without_changing_data() -> None:
    execution, started = await run({"mock": True})
    assert started.count("/use/extensions/1/audit/after/0/noteAfter") == 2
    # Extension tasks are not extended themselves.
    assert started.count("/use/extensions/1/audit/before/0/noteBefore") == 1
    assert execution.output == {"result": {"mocked": True}}


async def test_extension_whose_when_is_false_does_not_apply() -> None:
    execution, _ = await run({"mock": False})
    # Not mocked: the real call runs and fails, proving it was not bypassed.
    assert execution.status == "faulted"
    assert execution.error is not None and execution.error.instance == "/do/0/callService"
