"""`do` (dsl-reference "Do", "Flow Directive"): subtasks in sequence, each list
a scope of its own."""

from __future__ import annotations

from tests.engine.harness import execute, of_type, run


async def test_subtasks_run_in_order_each_on_the_previous_output() -> None:
    body = """
    do:
      - group:
          do:
            - one:
                set: {trail: [one]}
            - two:
                set: {trail: '${ .trail + ["two"] }'}
            - three:
                set: {trail: '${ .trail + ["three"] }'}
    """
    assert await run(body) == {"trail": ["one", "two", "three"]}


async def test_nested_do_output_flows_to_the_next_outer_task() -> None:
    body = """
    do:
      - group:
          input:
            from: .inner
          do:
            - deeper:
                do:
                  - leaf:
                      set: {leaf: '${ . }'}
          output:
            as: .leaf
      - next:
          set: {got: '${ . }'}
    """
    assert await run(body, {"inner": {"v": 1}}) == {"got": {"v": 1}}


async def test_then_exit_leaves_only_the_inner_scope() -> None:
    body = """
    do:
      - group:
          do:
            - first:
                set: {first: true}
                then: exit
            - skipped:
                set: {skipped: true}
      - after:
          set:
            after: true
            previous: ${ . }
    """
    execution, events = await execute(body)
    assert execution.output == {"after": True, "previous": {"first": True}}
    created = [e["data"]["task"] for e in of_type(events, "task.created")]
    assert "/do/0/group/do/1/skipped" not in created


async def test_then_exit_in_the_main_scope_ends_the_workflow() -> None:
    body = """
    do:
      - first:
          set: {first: true}
          then: exit
      - never:
          set: {never: true}
    """
    assert await run(body) == {"first": True}


async def test_then_end_ends_the_whole_workflow_from_deep_scopes() -> None:
    body = """
    do:
      - outer:
          do:
            - middle:
                do:
                  - stop:
                      set: {stopped: true}
                      then: end
                  - notInner:
                      set: {inner: true}
            - notMiddle:
                set: {middle: true}
      - notOuter:
          set: {outer: true}
    output:
      as: '${ . + {final: true} }'
    """
    execution, events = await execute(body)
    # The workflow output transformation still applies after `end`.
    assert execution.output == {"stopped": True, "final": True}
    assert execution.status == "completed"
    created = {e["data"]["task"].rsplit("/", 1)[1] for e in of_type(events, "task.created")}
    assert created == {"outer", "middle", "stop"}


async def test_then_names_a_task_of_the_same_scope() -> None:
    body = """
    do:
      - group:
          do:
            - start:
                set: {path: [start]}
                then: target
            - skipped:
                set: {path: '${ .path + ["skipped"] }'}
            - target:
                set: {path: '${ .path + ["target"] }'}
    """
    assert await run(body) == {"path": ["start", "target"]}
