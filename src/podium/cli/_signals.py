"""Graceful stops on SIGINT/SIGTERM: the first signal asks, the second insists."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable

from podium.cli._output import EXIT_INTERRUPTED

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.asynccontextmanager
async def stop_on_signals(
    announce: Callable[[str], None] = lambda _: None,
) -> AsyncIterator[asyncio.Event]:
    """An event set by the first SIGINT or SIGTERM; a second one exits at once
    (the leases this process holds then expire, or its death is noticed)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def received(signum: signal.Signals) -> None:
        if stop.is_set():
            announce(f"{signum.name} again: exiting now")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        announce(f"{signum.name}: stopping")
        stop.set()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, received, signum)
    try:
        yield stop
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)
