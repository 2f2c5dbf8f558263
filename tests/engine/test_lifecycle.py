"""Lifecycle CloudEvents (dsl.md "Lifecycle Events", dsl-reference "Lifecycle Events")."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from podium import Runtime
from tests.engine.harness import ERRORS, TASK, WORKFLOW, execute, of_type, problem, workflow

TWO_TASKS = """
do:
  - first:
      set: {a: 1}
  - second:
      set: {b: 2}
"""

FAULTING = """
do:
  - first:
      set: {a: 1}
  - boom:
      raise:
        error:
          type: https://example.com/errors/boom
          status: 418
          title: Boom
"""


def _kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("io.serverlessworkflow.").removesuffix(".v1") for e in events]


def _without_status_changes(events: list[dict[str, Any]]) -> list[str]:
    return [kind for kind in _kinds(events) if not kind.endswith("status-changed")]


def _is_datetime(value: str) -> bool:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "T" in value and moment.tzinfo is not None


async def test_required_events_of_a_completed_workflow_in_order() -> None:
    _, events = await execute(TWO_TASKS)
    assert _without_status_changes(events) == [
        "workflow.started",
        "task.created", "task.started", "task.completed",
        "task.created", "task.started", "task.completed",
        "workflow.completed",
    ]


async def test_every_event_of_a_completed_workflow_in_order() -> None:
    # Each status-changed event follows the event announcing the change.
    _, events = await execute(TWO_TASKS)
    task_events = [
        "task.created", "task.status-changed",
        "task.started", "task.status-changed",
        "task.completed", "task.status-changed",
    ]
    assert _kinds(events) == [
        "workflow.started", "workflow.status-changed",
        *task_events,
        *task_events,
        "workflow.completed", "workflow.status-changed",
    ]


async def test_status_changes_walk_through_the_status_phases() -> None:
    _, events = await execute(TWO_TASKS)
    changes = of_type(events, "workflow.status-changed")
    assert [e["data"]["status"] for e in changes] == ["running", "completed"]
    for task in ("/do/0/first", "/do/1/second"):
        task_changes = [e for e in of_type(events, "task.status-changed")
                        if e["data"]["task"] == task]
        assert [e["data"]["status"] for e in task_changes] == ["pending", "running", "completed"]


async def test_events_are_cloudevents() -> None:
    _, events = await execute(TWO_TASKS)
    assert len({e["id"] for e in events}) == len(events)
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["type"].startswith((WORKFLOW, TASK))
        assert event["type"].endswith(".v1")
        assert isinstance(event["source"], str)
        assert event["source"]
        assert _is_datetime(event["time"])
        assert isinstance(event["data"], dict)


async def test_workflow_event_data() -> None:
    execution, events = await execute(TWO_TASKS, {"in": 1})
    (started,) = of_type(events, "workflow.started")
    (completed,) = of_type(events, "workflow.completed")
    qualified = started["data"]["name"]
    # dsl-reference example: `orderPetWorkflow-ix7iryakiem8j.samples`.
    assert qualified == f"test-{execution.id}.test"
    assert started["data"]["definition"] == {
        "namespace": "test",
        "name": "test",
        "version": "0.1.0",
    }
    assert _is_datetime(started["data"]["startedAt"])
    assert completed["data"]["name"] == qualified
    assert _is_datetime(completed["data"]["completedAt"])
    assert completed["data"]["output"] == {"b": 2}
    for change in of_type(events, "workflow.status-changed"):
        assert change["data"]["name"] == qualified
        assert _is_datetime(change["data"]["updatedAt"])


async def test_task_event_data() -> None:
    execution, events = await execute(TWO_TASKS)
    qualified = f"test-{execution.id}.test"
    for kind, at in (("task.created", "createdAt"), ("task.started", "startedAt"),
                     ("task.completed", "completedAt")):
        found = of_type(events, kind)
        assert [e["data"]["task"] for e in found] == ["/do/0/first", "/do/1/second"]
        for event in found:
            assert event["data"]["workflow"] == qualified
            assert _is_datetime(event["data"][at])
    outputs = [e["data"]["output"] for e in of_type(events, "task.completed")]
    assert outputs == [{"a": 1}, {"b": 2}]


async def test_events_of_a_faulted_workflow_in_order() -> None:
    execution, events = await execute(FAULTING)
    assert execution.status == "faulted"
    assert _without_status_changes(events) == [
        "workflow.started",
        "task.created", "task.started", "task.completed",
        "task.created", "task.started", "task.faulted",
        "workflow.faulted",
    ]
    assert _kinds(events)[-2:] == ["workflow.faulted", "workflow.status-changed"]
    assert of_type(events, "workflow.status-changed")[-1]["data"]["status"] == "faulted"
    assert of_type(events, "task.status-changed")[-1]["data"]["status"] == "faulted"
    assert of_type(events, "workflow.completed") == []


async def test_faulted_event_data_carries_the_error() -> None:
    execution, events = await execute(FAULTING)
    expected = {
        "type": "https://example.com/errors/boom",
        "status": 418,
        "title": "Boom",
        "instance": "/do/1/boom",
    }
    (task_faulted,) = of_type(events, "task.faulted")
    assert task_faulted["data"]["task"] == "/do/1/boom"
    assert _is_datetime(task_faulted["data"]["faultedAt"])
    assert problem(task_faulted["data"]["error"]) == expected
    (workflow_faulted,) = of_type(events, "workflow.faulted")
    assert workflow_faulted["data"]["name"] == f"test-{execution.id}.test"
    assert _is_datetime(workflow_faulted["data"]["faultedAt"])
    assert problem(workflow_faulted["data"]["error"]) == expected
    assert execution.error is not None
    assert problem(execution.error.to_dict()) == expected


async def test_a_fault_in_a_nested_task_faults_each_enclosing_task() -> None:
    body = """
    do:
      - outer:
          do:
            - inner:
                set:
                  x: ${ .missing.deeper }
    """
    _, events = await execute(body, {"missing": "text"})
    faulted = of_type(events, "task.faulted")
    assert [e["data"]["task"] for e in faulted] == ["/do/0/outer/do/0/inner", "/do/0/outer"]
    for event in faulted:
        # The error keeps the pointer of the task that raised it.
        assert event["data"]["error"]["instance"] == "/do/0/outer/do/0/inner"
        assert event["data"]["error"]["type"] == ERRORS + "expression"


async def test_nested_task_events_nest_inside_their_parent() -> None:
    body = """
    do:
      - outer:
          do:
            - inner:
                set: {x: 1}
    """
    _, events = await execute(body)
    tasks = [(kind, e["data"]["task"]) for kind, e in zip(_kinds(events), events, strict=True)
             if kind in ("task.started", "task.completed")]
    assert tasks == [
        ("task.started", "/do/0/outer"),
        ("task.started", "/do/0/outer/do/0/inner"),
        ("task.completed", "/do/0/outer/do/0/inner"),
        ("task.completed", "/do/0/outer"),
    ]


# Listeners that need some types only ---------------------------------------------------

STARTED, COMPLETED = f"{TASK}started.v1", f"{TASK}completed.v1"


async def test_events_no_listener_needs_are_not_built() -> None:
    picky: list[dict[str, Any]] = []
    async with Runtime() as runtime:
        runtime.add_listener(picky.append, types=[STARTED, COMPLETED])
        await runtime.run(workflow(TWO_TASKS))
    assert [(e["type"], e["data"]["task"]) for e in picky] == [
        (STARTED, "/do/0/first"), (COMPLETED, "/do/0/first"),
        (STARTED, "/do/1/second"), (COMPLETED, "/do/1/second"),
    ]


async def test_a_listener_of_every_type_still_gets_every_event() -> None:
    picky: list[dict[str, Any]] = []
    every: list[dict[str, Any]] = []
    async with Runtime(listeners=[every.append]) as runtime:
        runtime.add_listener(picky.append, types=[STARTED])
        await runtime.run(workflow(TWO_TASKS))
    assert _without_status_changes(every) == [
        "workflow.started", "task.created", "task.started", "task.completed",
        "task.created", "task.started", "task.completed", "workflow.completed",
    ]
    assert picky == every  # what is built goes to every listener


async def test_event_ids_are_unique_and_the_time_is_the_moment_the_data_gives() -> None:
    _, events = await execute(TWO_TASKS)
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            i) for i in ids)
    for event in events:
        at = next(v for k, v in event["data"].items() if k.endswith("At"))
        assert event["time"] == at and _is_datetime(at)
