"""The sandbox: budgets of time and memory, crashes and cancellation, each
costing one child process and never the caller."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from podium.expressions import sandbox as sandboxing
from podium.expressions.jq import Expression
from podium.expressions.sandbox import (
    BudgetExceeded,
    Crashed,
    OutOfMemory,
    ProgramError,
    ResultTooLarge,
    Sandbox,
    check_compile,
)
from tests.expressions.helpers import alive, busy_children

SMALL_MEMORY = 256 * 1024 * 1024


@pytest.fixture
async def box() -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(timeout=60, memory=SMALL_MEMORY)
    try:
        yield sandbox
    finally:
        await sandbox.aclose()


async def evaluate(sandbox: Sandbox, source: str, data: object = None) -> object:
    expression = Expression(source)
    assert expression.sandbox_program is not None, "expected an unbounded expression"
    text = await sandbox.evaluate(expression.sandbox_program, expression.payload(data, {}))
    return json.loads(text)


async def test_an_unbounded_expression_runs_and_answers(box: Sandbox) -> None:
    assert await evaluate(box, "[range(3)]") == [[0, 1, 2]]
    assert await evaluate(box, "reduce .[] as $x (0; . + $x)", [1, 2, 3]) == [6]
    assert box.started == 1  # one child, reused


async def test_the_time_budget_kills_the_child_and_the_next_one_works() -> None:
    box = Sandbox(timeout=2)
    try:
        began = time.monotonic()
        with pytest.raises(BudgetExceeded, match="within its 2s budget"):
            await evaluate(box, "until(false; .)")
        assert time.monotonic() - began < 30
        assert await evaluate(box, "[range(2)]") == [[0, 1]]
        assert box.started == 2
    finally:
        await box.aclose()


async def test_memory_exhaustion_is_reported_not_fatal(box: Sandbox) -> None:
    # libjq aborts its process when malloc fails: only the child dies.
    with pytest.raises(OutOfMemory, match="ran out of its 256 MiB memory budget"):
        await evaluate(box, "def f: 1 + f; f")
    assert await evaluate(box, "[range(1)]") == [[0]]


async def test_a_child_killed_by_a_signal_is_a_crash(box: Sandbox) -> None:
    task = asyncio.ensure_future(evaluate(box, "until(false; .)"))
    pids = await busy_children(box)
    os.kill(pids[0], signal.SIGSEGV)
    with pytest.raises(Crashed, match=r"crashed the evaluator \(SIGSEGV\)"):
        await task


async def test_a_group_sigterm_leaves_the_ending_to_the_parent() -> None:
    # A service manager signals every process of the group: the parent releases
    # its instances gracefully; a child dying first would fault them instead.
    box = Sandbox(timeout=60)
    try:
        assert await evaluate(box, "[range(1)]") == [[0]]  # the child is up
        task = asyncio.ensure_future(evaluate(box, "[range(300000)] | length"))
        (pid,) = await busy_children(box)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            os.kill(pid, signum)
        assert await task == [300000]
        assert await evaluate(box, "[range(2)]") == [[0, 1]]
        assert box.started == 1  # the same child throughout
    finally:
        await box.aclose()


async def test_cancelling_an_evaluation_kills_its_child(box: Sandbox) -> None:
    task = asyncio.ensure_future(evaluate(box, "until(false; .)"))
    (pid,) = await busy_children(box)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await box.aclose()
    assert not alive(pid)


async def test_a_jq_error_is_the_programs_own(box: Sandbox) -> None:
    with pytest.raises(ProgramError, match="boom"):
        await evaluate(box, 'reduce range(3) as $i (0; error("boom"))')
    assert box.started == 1  # the child is fine


async def test_a_result_over_the_payload_limit_is_refused() -> None:
    sandbox = Sandbox(max_result=1000)
    try:
        with pytest.raises(ResultTooLarge, match="over the 1000 bytes limit"):
            await evaluate(sandbox, "[range(1000)]")
    finally:
        await sandbox.aclose()


async def test_evaluations_beyond_the_pool_wait_for_a_child() -> None:
    sandbox = Sandbox(processes=1)
    try:
        results = await asyncio.gather(*(evaluate(sandbox, f"[range({n})]") for n in range(4)))
    finally:
        await sandbox.aclose()
    assert results == [[[]], [[0]], [[0, 1]], [[0, 1, 2]]]
    assert sandbox.started == 1


async def test_non_finite_numbers_come_back_as_jq_prints_them(box: Sandbox) -> None:
    assert await evaluate(box, "reduce (infinite, -infinite, nan) as $x ([]; . + [$x])") == [
        [1.7976931348623157e308, -1.7976931348623157e308, None]
    ]


def test_children_die_with_their_parent() -> None:
    # A parent killed with SIGKILL cannot clean up: PR_SET_PDEATHSIG does.
    script = (
        "import asyncio, os, signal\n"
        "from podium.expressions.sandbox import Sandbox\n"
        "async def main():\n"
        "    box = Sandbox()\n"
        "    expression = 'def env: {}; [.[0] | until(false; .)] | tojson'\n"
        "    task = asyncio.ensure_future(box.evaluate(expression, b'[null, []]'))\n"
        "    await asyncio.sleep(0.5)\n"
        "    (child,) = [c.process.pid for c in box._busy]\n"
        "    print(child, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout.strip())
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


# --- compile checks -----------------------------------------------------------------------


def test_a_constant_folding_bomb_is_refused_within_budget() -> None:
    began = time.monotonic()
    with pytest.raises(OutOfMemory):
        check_compile('"x" * 2000000000 | length')
    assert time.monotonic() - began < 30


def test_compile_checks_report_syntax_errors_and_success() -> None:
    assert check_compile('"ab" * 3') is None
    message = check_compile('"ab" * ')
    assert message is not None and "syntax error" in message


def test_a_compile_check_has_a_time_budget() -> None:
    with pytest.raises(BudgetExceeded):
        check_compile("[" + ",".join(["0"] * 200000) + "] - [" + ",".join(["1"] * 200000) + "]",
                      seconds=1)


def test_how_a_death_is_read() -> None:
    assert isinstance(sandboxing._death(-6, b"jq: error: cannot allocate memory", 1), OutOfMemory)
    assert str(sandboxing._death(-11, b"", 1)) == "crashed the evaluator (SIGSEGV)"
    assert str(sandboxing._death(-6, b"", 1)) == "crashed the evaluator (SIGABRT)"
    assert isinstance(sandboxing._death(86, b"", 1), OutOfMemory)
