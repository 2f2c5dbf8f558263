"""`run: workflow` subflows from the registry, in memory (store-backed runs are
covered by the durability tests)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium import Runtime, WorkflowError

CHILD = """
document: {{dsl: '1.0.3', namespace: test, name: child, version: '{version}'}}
do:
  - greet:
      set:
        greeting: '${{ "hello " + .name + " from {version}" }}'
"""

FAILING_CHILD = """
document: {dsl: '1.0.3', namespace: test, name: broken, version: '1.0.0'}
do:
  - fail:
      raise:
        error: {type: https://example.com/errors/broken, status: 422, title: Broken}
"""


def parent(version: str = "1.0.0", awaited: bool = True, name: str = "child") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: parent, version: '1.0.0'}}
do:
  - callChild:
      run:
        await: {str(awaited).lower()}
        workflow:
          namespace: test
          name: {name}
          version: '{version}'
          input:
            name: ${{ .who }}
"""


async def test_awaited_subflow_output_is_the_task_output() -> None:
    async with Runtime() as runtime:
        await runtime.deploy(CHILD.format(version="1.0.0"))
        out = await runtime.run(parent(), {"who": "Ada"})
    assert out == {"greeting": "hello Ada from 1.0.0"}


async def test_versions_are_pinned_and_latest_picks_the_highest() -> None:
    async with Runtime() as runtime:
        for version in ("1.0.0", "1.2.0", "1.10.0", "2.0.0-rc1"):
            await runtime.deploy(CHILD.format(version=version))
        pinned = await runtime.run(parent("1.2.0"), {"who": "Ada"})
        latest = await runtime.run(parent("latest"), {"who": "Ada"})
    assert pinned == {"greeting": "hello Ada from 1.2.0"}
    assert latest == {"greeting": "hello Ada from 2.0.0-rc1"}


async def test_redeploying_a_version_with_other_content_is_refused() -> None:
    async with Runtime() as runtime:
        await runtime.deploy(CHILD.format(version="1.0.0"))
        await runtime.deploy(CHILD.format(version="1.0.0"))  # identical: fine
        with pytest.raises(WorkflowError, match="already deployed"):
            await runtime.deploy(CHILD.format(version="1.0.0").replace("hello", "bye"))


async def test_faulted_subflow_faults_the_task_with_its_error() -> None:
    async with Runtime() as runtime:
        await runtime.deploy(FAILING_CHILD)
        with pytest.raises(WorkflowError) as caught:
            await runtime.run(parent(name="broken"), {"who": "Ada"})
    error = caught.value
    assert (error.type, error.status, error.instance) == (
        "https://example.com/errors/broken", 422, "/do/0/callChild"
    )
    assert "/do/0/fail" in (error.detail or "")


async def test_missing_subflow_is_a_configuration_error() -> None:
    async with Runtime() as runtime:
        with pytest.raises(WorkflowError) as caught:
            await runtime.run(parent(name="nowhere"), {"who": "Ada"})
    assert caught.value.type.endswith("/errors/configuration")
    assert "test/nowhere:1.0.0 is not deployed" in (caught.value.detail or "")


async def test_unawaited_subflow_runs_in_the_background() -> None:
    events: list[dict[str, Any]] = []
    async with Runtime(listeners=[events.append]) as runtime:
        await runtime.deploy(CHILD.format(version="1.0.0"))
        out = await runtime.run(parent(awaited=False), {"who": "Ada"})
        assert out == {"who": "Ada"}  # the task completes at once with its input
        for _ in range(50):
            if any(e["type"].endswith("workflow.completed.v1")
                   and e["data"].get("output", {}).get("greeting") for e in events):
                break
            await asyncio.sleep(0.01)
    child_done = [e for e in events if e["type"].endswith("workflow.completed.v1")
                  and e["data"]["output"] == {"greeting": "hello Ada from 1.0.0"}]
    assert len(child_done) == 1
