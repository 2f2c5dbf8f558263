"""A last-resort timeout for tests that run code able to hold the GIL for ever.

libjq holds the GIL for a whole evaluation: if a runaway expression ever ran
in-process, neither an asyncio timeout nor a SIGALRM handler (pytest-timeout)
could run. faulthandler's watchdog is a C thread that needs no GIL: it dumps
every thread's stack and ends the test process, so CI fails instead of hanging.
"""

from __future__ import annotations

import faulthandler
from collections.abc import Iterator

import pytest

HARD_TIMEOUT_SECONDS = 120


@pytest.fixture
def hard_timeout() -> Iterator[None]:
    faulthandler.dump_traceback_later(HARD_TIMEOUT_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
