"""`fork` (dsl-reference "Fork"): branches run concurrently; without `compete`
the output lists every branch's output in declaration order, with `compete`
the first branch to complete wins and the others are cancelled."""

from __future__ import annotations

import time

from tests.engine.harness import ERRORS, execute, of_type, run


async def test_outputs_are_in_declaration_order_not_completion_order() -> None:
    body = """
    do:
      - both:
          fork:
            branches:
              - slow:
                  do:
                    - pause:
                        wait: {milliseconds: 50}
                    - mark:
                        set: {branch: slow, input: '${ .n }'}
              - fast:
                  set: {branch: fast, input: '${ .n }'}
    """
    assert await run(body, {"n": 1}) == [
        {"branch": "slow", "input": 1},
        {"branch": "fast", "input": 1},
    ]


async def test_branches_run_concurrently() -> None:
    body = """
    do:
      - both:
          fork:
            branches:
              - one:
                  wait: {milliseconds: 200}
              - two:
                  wait: {milliseconds: 200}
              - three:
                  wait: {milliseconds: 200}
    """
    execution, events = await execute(body, {"x": 1})
    assert execution.output == [{"x": 1}, {"x": 1}, {"x": 1}]
    # Concurrent, whatever the machine's speed: every wait started before any ended.
    waits = {f"/do/0/both/fork/branches/{i}/{name}"
             for i, name in enumerate(("one", "two", "three"))}
    phases = [e["type"].split(".")[-2] for e in events if e["data"].get("task") in waits]
    phases = [phase for phase in phases if phase in ("started", "completed")]
    assert phases == ["started"] * 3 + ["completed"] * 3, phases


async def test_branch_references_and_output_feed_the_next_task() -> None:
    body = """
    do:
      - both:
          fork:
            branches:
              - a:
                  set: {ref: '${ $task.reference }'}
              - b:
                  set: {ref: '${ $task.reference }'}
      - next:
          set: {refs: '${ map(.ref) }'}
    """
    assert await run(body) == {
        "refs": ["/do/0/both/fork/branches/0/a", "/do/0/both/fork/branches/1/b"]
    }


COMPETE = """
do:
  - race:
      fork:
        compete: true
        branches:
          - slow:
              do:
                - pause:
                    wait: PT10S
                - mark:
                    set: {winner: slow}
          - fast:
              set: {winner: fast}
"""


async def test_compete_returns_the_winners_output_and_cancels_the_others() -> None:
    started = time.monotonic()
    execution, events = await execute(COMPETE)
    elapsed = time.monotonic() - started
    assert execution.status == "completed"
    assert execution.output == {"winner": "fast"}
    assert elapsed < 5, "the losing branch was left running"  # it waits 10 s
    cancelled = {e["data"]["task"] for e in of_type(events, "task.cancelled")}
    assert "/do/0/race/fork/branches/0/slow" in cancelled
    assert "/do/0/race/fork/branches/0/slow/do/0/pause" in cancelled
    completed = {e["data"]["task"] for e in of_type(events, "task.completed")}
    assert "/do/0/race/fork/branches/0/slow" not in completed
    assert "/do/0/race/fork/branches/0/slow/do/1/mark" not in completed
    assert "/do/0/race/fork/branches/1/fast" in completed


async def test_compete_with_branches_of_different_speeds() -> None:
    body = """
    do:
      - race:
          fork:
            compete: true
            branches:
              - tortoise:
                  do:
                    - pause:
                        wait: {milliseconds: 300}
                    - mark:
                        set: {winner: tortoise}
              - hare:
                  do:
                    - pause:
                        wait: {milliseconds: 20}
                    - mark:
                        set: {winner: hare}
    """
    assert await run(body) == {"winner": "hare"}


async def test_a_faulting_branch_faults_the_fork_and_cancels_the_others() -> None:
    body = """
    do:
      - both:
          fork:
            branches:
              - slow:
                  wait: PT10S
              - broken:
                  raise:
                    error:
                      type: https://example.com/errors/broken
                      status: 500
                      title: Broken branch
      - after:
          set: {after: true}
    """
    started = time.monotonic()
    execution, events = await execute(body)
    assert time.monotonic() - started < 5  # half of the wait the fault cancels
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type == "https://example.com/errors/broken"
    assert execution.error.instance == "/do/0/both/fork/branches/1/broken"
    faulted = [e["data"]["task"] for e in of_type(events, "task.faulted")]
    assert faulted == ["/do/0/both/fork/branches/1/broken", "/do/0/both"]
    cancelled = [e["data"]["task"] for e in of_type(events, "task.cancelled")]
    assert cancelled == ["/do/0/both/fork/branches/0/slow"]
    assert "/do/1/after" not in [e["data"]["task"] for e in of_type(events, "task.created")]


async def test_a_faulting_branch_can_be_caught_around_the_fork() -> None:
    body = """
    do:
      - guarded:
          try:
            - both:
                fork:
                  branches:
                    - ok:
                        set: {ok: true}
                    - broken:
                        raise:
                          error:
                            type: https://example.com/errors/broken
                            status: 500
          catch:
            errors:
              with:
                type: https://example.com/errors/broken
            do:
              - recover:
                  set: {recovered: '${ $error.instance }'}
    """
    assert await run(body) == {
        "recovered": "/do/0/guarded/try/0/both/fork/branches/1/broken"
    }


async def test_compete_faults_when_every_branch_faults() -> None:
    body = """
    do:
      - race:
          fork:
            compete: true
            branches:
              - one:
                  raise:
                    error: {type: https://example.com/errors/one, status: 500}
              - two:
                  raise:
                    error: {type: https://example.com/errors/two, status: 500}
    """
    execution, _ = await execute(body)
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type.startswith(("https://example.com/errors/", ERRORS))
