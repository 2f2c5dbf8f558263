"""Flow directives (dsl.md "Task Flow", dsl-reference "Flow Directive"):
`then` to a named task, including backward jumps that make loops."""

from __future__ import annotations

from tests.engine.harness import execute, of_type, run

COUNTER_LOOP = """
do:
  - init:
      set: {count: 0, trail: [], limit: 3}
  - increment:
      set:
        limit: ${ .limit }
        count: ${ .count + 1 }
        trail: ${ .trail + [.count + 1] }
  - check:
      switch:
        - done:
            when: .count >= .limit
            then: end
        - again:
            then: increment
  - never:
      set: {never: true}
"""


async def test_backward_jump_loops_until_a_switch_ends_it() -> None:
    execution, events = await execute(COUNTER_LOOP)
    assert execution.output == {"count": 3, "trail": [1, 2, 3], "limit": 3}
    created = [e["data"]["task"] for e in of_type(events, "task.created")]
    assert created.count("/do/1/increment") == 3
    assert created.count("/do/2/check") == 3
    assert "/do/3/never" not in created


async def test_backward_jump_with_a_task_then_and_a_switch_exit() -> None:
    body = """
    do:
      - loop:
          do:
            - bump:
                set: {n: '${ .n + 1 }'}
            - guard:
                switch:
                  - stop:
                      when: .n >= 5
                      then: exit
                  - go:
                      then: continue
            - again:
                set: {n: '${ .n }'}
                then: bump
      - after:
          set: {final: '${ .n }'}
    """
    assert await run(body, {"n": 0}) == {"final": 5}


async def test_explicit_continue_goes_to_the_next_task() -> None:
    body = """
    do:
      - first:
          set: {a: 1}
          then: continue
      - second:
          set: {b: '${ .a }'}
    """
    assert await run(body) == {"b": 1}


async def test_forward_jump_skips_tasks_in_between() -> None:
    body = """
    do:
      - first:
          set: {a: 1}
          then: third
      - second:
          set: {second: true}
      - third:
          set: {a: '${ .a }', third: true}
    """
    assert await run(body) == {"a": 1, "third": True}


async def test_jump_inside_a_for_iteration_stays_in_the_iteration() -> None:
    body = """
    do:
      - loop:
          for:
            in: '[1, 2]'
          do:
            - start:
                set: {acc: '${ .acc }'}
                then: add
            - skipped:
                set: {acc: '${ .acc + ["skipped"] }'}
            - add:
                set: {acc: '${ .acc + [$item] }'}
    """
    assert await run(body, {"acc": []}) == {"acc": [1, 2]}
