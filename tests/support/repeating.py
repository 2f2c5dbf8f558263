"""Background loops for tests (publishers, pollers) that always end.

A loop that relies on ``task.cancel()`` alone can outlive its test: Python
3.11's ``asyncio.wait_for`` (nats-py's ``flush`` waits with it) swallows a
cancellation that arrives as the awaited future completes, and the loop then
goes on forever (a NATS publisher sent 8.3 MB while the suite hung for 15
minutes). So a loop here checks a stop flag before every round, is cancelled
as well, is bounded in rounds whatever happens to its test, and its end is
awaited with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

STOP_SECONDS = 10.0


@contextlib.asynccontextmanager
async def repeating(
    step: Callable[[int], Awaitable[None]], *, interval: float, rounds: int
) -> AsyncIterator[None]:
    """Run ``step(0)``, ``step(1)``, ... every ``interval`` seconds while the
    block runs, at most ``rounds`` times. An exception of ``step`` is raised
    when the block ends."""
    stop = asyncio.Event()

    async def loop() -> None:
        for number in range(rounds):
            if stop.is_set():
                return
            await step(number)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            raise AssertionError(f"a background loop did not stop within {STOP_SECONDS:g}s")
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
