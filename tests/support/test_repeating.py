"""Background loops of the tests end with their block, even when a cancellation
is lost, and are bounded even when the block never ends."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.support.repeating import repeating


async def test_a_loop_whose_step_swallows_the_cancellation_still_stops() -> None:
    # What Python 3.11's asyncio.wait_for does when a cancellation arrives as
    # its future completes (nats-py's flush waits with it): the step returns.
    steps: list[int] = []

    async def step(number: int) -> None:
        steps.append(number)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)

    async with asyncio.timeout(30):
        async with repeating(step, interval=0, rounds=100_000):
            await asyncio.sleep(0.2)
        stopped_at = len(steps)
        await asyncio.sleep(0.2)
    assert steps and len(steps) == stopped_at


async def test_a_loop_is_bounded_in_rounds() -> None:
    steps: list[int] = []
    fifth = asyncio.Event()

    async def step(number: int) -> None:
        steps.append(number)
        if number == 4:
            fifth.set()

    async with asyncio.timeout(30), repeating(step, interval=0, rounds=5):
        await fifth.wait()
        await asyncio.sleep(0.1)  # time for a sixth round, which must not come
    assert steps == [0, 1, 2, 3, 4]


async def test_a_failing_step_is_reported_when_the_block_ends() -> None:
    async def step(number: int) -> None:
        raise ConnectionError("broker gone")

    with pytest.raises(ConnectionError, match="broker gone"):
        async with asyncio.timeout(30), repeating(step, interval=0.01, rounds=10):
            await asyncio.sleep(0.1)
