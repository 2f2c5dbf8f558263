"""Issue 7, items 4 and 5: a runaway or crashing expression costs at most its own
instance. It runs in the sandbox, so task and workflow timeouts fire, the
expression budget ends it otherwise, the event loop keeps serving other
instances, and a libjq abort faults the task instead of killing the process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from podium import Runtime, load
from podium.config import Settings
from podium.store import open_store
from tests.durability.helpers import ended, working
from tests.engine.harness import ERRORS, fault, run, runtime, workflow
from tests.expressions.helpers import alive, busy_children

TIMEOUT = ERRORS + "timeout"
EXPRESSION = ERRORS + "expression"


async def test_a_task_timeout_interrupts_a_runaway_expression() -> None:
    began = time.monotonic()
    error = await fault("""
    do:
      - spin:
          timeout:
            after: PT1S
          set:
            v: '${ until(false; .) }'
    """)
    assert error.type == TIMEOUT
    assert error.instance == "/do/0/spin"
    assert "did not complete within 1s" in (error.detail or "")
    # Well before the expression's own 10 s budget.
    assert time.monotonic() - began < 8


async def test_a_workflow_timeout_interrupts_a_runaway_expression() -> None:
    began = time.monotonic()
    error = await fault("""
    timeout:
      after: PT1S
    do:
      - spin:
          set: '${ [limit(100000000000; repeat(1))] }'
    """)
    assert error.type == TIMEOUT
    assert "the workflow did not complete within 1s" in (error.detail or "")
    assert time.monotonic() - began < 8


async def test_without_a_timeout_the_expression_budget_ends_it() -> None:
    error = await fault("""
    do:
      - spin:
          set:
            v: '${ [range(1e18)] | length }'
    """, settings=Settings(expression_timeout=1))
    assert error.type == TIMEOUT
    assert error.instance == "/do/0/spin"
    assert "did not finish within its 1s budget" in (error.detail or "")
    assert "PODIUM_EXPRESSION_TIMEOUT" in (error.detail or "")


async def test_a_libjq_abort_faults_the_task_and_spares_the_process() -> None:
    error = await fault("""
    do:
      - recurse:
          set:
            v: '${ def f: 1 + f; f }'
    """, settings=Settings(expression_timeout=120))  # memory runs out first, however slow
    assert error.type == EXPRESSION
    assert error.instance == "/do/0/recurse"
    assert "ran out of its 1 GiB memory budget" in (error.detail or "")
    # The process lives on, and runs the next workflow.
    assert await run("""
    do:
      - ok:
          set: {v: '${ reduce range(4) as $i (0; . + $i) }'}
    """) == {"v": 6}


async def test_other_instances_progress_while_an_expression_runs_away() -> None:
    spinning = workflow("""
    do:
      - spin:
          set: {v: '${ until(false; .) }'}
    """, name="spinning")
    healthy = workflow("""
    do:
      - nap:
          wait: PT0.2S
      - done:
          set: {done: true}
    """, name="healthy")
    async with runtime(settings=Settings(expression_timeout=3)) as rt:
        stuck = await rt.start(spinning)
        await asyncio.sleep(0.2)  # the runaway expression is now in the sandbox
        finished = await rt.execute(healthy)
        assert stuck.status == "running"  # still spinning when the healthy one ended
        ended = await stuck.result()
    assert finished.status == "completed"
    assert finished.output == {"done": True}
    assert ended.status == "faulted"
    assert ended.error is not None and ended.error.type == TIMEOUT


async def test_a_loop_of_tasks_that_never_wait_yields_so_its_timeout_fires() -> None:
    began = time.monotonic()
    error = await fault("""
    timeout:
      after: PT1S
    do:
      - again:
          set: {n: '${ .n + 1 }'}
          then: again
    """, {"n": 0})
    assert error.type == TIMEOUT
    assert "the workflow did not complete within 1s" in (error.detail or "")
    assert time.monotonic() - began < 8


async def test_a_loop_of_tasks_lets_other_instances_run() -> None:
    looping = workflow("""
    timeout:
      after: PT2S
    do:
      - again:
          set: {n: '${ .n + 1 }'}
          then: again
    """, name="looping")
    quick = workflow("""
    do:
      - nap:
          wait: PT0.1S
    """, name="quick")
    async with runtime() as rt:
        loop = await rt.start(looping, {"n": 0})
        await asyncio.sleep(0.05)
        finished = await rt.execute(quick)
        assert loop.status == "running"
        ended = await loop.result()
    assert finished.status == "completed"
    assert ended.status == "faulted"


async def test_cancelling_an_instance_stops_its_runaway_expression() -> None:
    async with runtime() as rt:
        handle = await rt.start(workflow("""
        do:
          - spin:
              set: {v: '${ until(false; .) }'}
        """))
        (pid,) = await busy_children(rt.services.sandbox)
        handle.cancel()
        execution = await handle.result()
        assert execution.status == "cancelled"
    assert not alive(pid)  # killed, not left spinning


async def test_unbounded_constructs_evaluate_in_the_sandbox_with_the_same_results() -> None:
    body = """
    do:
      - compute:
          set:
            sum: '${ reduce .xs[] as $x (0; . + $x) }'
            running: '${ [foreach .xs[] as $x (0; . + $x)] }'
            squares: '${ [range(4) | . * .] }'
            words: '${ [.text | splits(", *")] }'
            matched: '${ .text | test("b") }'
            replaced: '${ .text | gsub("a"; "A") }'
            defined: '${ def twice(f): f | f; 3 | twice(. * 2) }'
            assigned: '${ .xs[0] = 10 | .xs }'
            paths: '${ [paths] | length }'
            found: '${ .text | indices("b") }'
    """
    data = {"xs": [1, 2, 3], "text": "a, b,c"}
    async with runtime() as rt:
        output = await rt.run(workflow(body), data)
        assert rt.services.sandbox.started >= 1
    assert output == {
        "sum": 6,
        "running": [1, 3, 6],
        "squares": [0, 1, 4, 9],
        "words": ["a", "b", "c"],
        "matched": True,
        "replaced": "A, b,c",
        "defined": 12,
        "assigned": [10, 2, 3],
        "paths": 5,
        "found": [3],
    }


async def test_contained_expressions_never_start_the_sandbox() -> None:
    async with runtime() as rt:
        await rt.run(workflow("""
        do:
          - t:
              set:
                a: '${ .x + 1 }'
                b: '${ {y: .x, z: [.x, .x]} }'
                c: '${ "n=\\(.x)" }'
        """), {"x": 1})
        assert rt.services.sandbox.started == 0


async def test_a_worker_finishes_healthy_instances_beside_a_runaway_one(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'podium.db'}")
    await store.open()
    try:
        async with Runtime(store=store, worker_id="w1",
                           settings=Settings(expression_timeout=2)) as rt:
            poison, _ = await rt.create_instance(load(workflow("""
            do:
              - spin:
                  set: {v: '${ until(false; .) }'}
            """, name="poison")), {})
            healthy = load(workflow("""
            do:
              - nap:
                  wait: PT0.1S
              - done:
                  set: {done: true}
            """, name="healthy"))
            others = [(await rt.create_instance(healthy, {}))[0] for _ in range(5)]
            async with working(rt, concurrency=8):
                finished = [await ended(store, record.id) for record in others]
                # All done while the poison instance still spins.
                current = await store.get_instance(poison.id)
                assert current is not None and current.status == "running"
                stopped = await ended(store, poison.id)
    finally:
        await store.close()
    assert [record.status for record in finished] == ["completed"] * 5
    assert stopped.status == "faulted"
    assert stopped.error is not None and stopped.error["type"] == TIMEOUT
