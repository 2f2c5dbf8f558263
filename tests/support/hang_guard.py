"""A pytest plugin: no test, and no end of the run, may hang the suite.

pytest-timeout (``timeout`` in pyproject, method ``signal``) fails a test that
overruns its limit and lets the run go on: SIGALRM interrupts the main
thread, whether the event loop sleeps in ``select`` or a synchronous test
blocks on a lock, a queue or a socket. Two hangs escape it, and this plugin
ends them instead, by exiting the run with every thread's stack on stderr
(``faulthandler``'s watchdog is a C thread: it needs neither the GIL nor the
main thread):

- a test whose main thread never returns to Python bytecode (a C extension
  looping with the GIL held, such as a runaway libjq expression), or whose
  teardown blocks after the timeout fired (joining an executor thread that
  never ends): the run exits ``hang_guard_grace`` seconds after the test's limit;
- the interpreter's exit, which joins every non-daemon thread left behind:
  the run exits ``hang_guard_exit`` seconds after the session ends.

An exit of this kind loses the report of the tests that were left, but a CI
run that stalls for hours reports nothing at all.
"""

from __future__ import annotations

import faulthandler
import os
import time
from collections.abc import Generator
from typing import TextIO

import pytest

GRACE_SECONDS = 30.0  # ini ``hang_guard_grace``
EXIT_SECONDS = 60.0  # ini ``hang_guard_exit``


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("hang_guard_grace", "seconds after a test's timeout before the run exits",
                  default=str(GRACE_SECONDS))
    parser.addini("hang_guard_exit", "seconds the interpreter may take to exit after the run",
                  default=str(EXIT_SECONDS))


class _Guard:
    """The watchdog of the test running now: exit at its deadline."""

    deadline: float | None = None
    # The terminal's stderr, kept while pytest does not capture file descriptor
    # 2: a dump written to a capture file would vanish with the process.
    terminal: TextIO | None = None

    @classmethod
    def arm(cls, seconds: float | None = None) -> None:
        if seconds is None and cls.deadline is not None:
            seconds = max(cls.deadline - time.monotonic(), 1.0)
        if seconds is not None and cls.terminal is not None:
            faulthandler.dump_traceback_later(seconds, exit=True, file=cls.terminal)


def pytest_configure(config: pytest.Config) -> None:
    # Capturing is suspended between loading conftests and running tests.
    _Guard.terminal = os.fdopen(os.dup(2), "w", closefd=True)


def _limit(item: pytest.Item) -> float | None:
    """The test's pytest-timeout limit in seconds (None or 0: no limit), found
    as pytest-timeout finds it: marker, else option, else environment, else ini."""
    marker = item.get_closest_marker("timeout")
    value: object
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        value = (item.config.getoption("timeout", None) or os.environ.get("PYTEST_TIMEOUT")
                 or item.config.getini("timeout"))
    try:
        seconds = float(str(value)) if value is not None else 0.0
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    limit = _limit(item)
    if limit is not None and not item.config.getoption("usepdb", False):
        grace = float(item.config.getini("hang_guard_grace"))
        _Guard.deadline = time.monotonic() + limit + grace
        _Guard.arm()
    try:
        yield
    finally:
        _Guard.deadline = None
        faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(trylast=True)
def pytest_exception_interact() -> None:
    # pytest's faulthandler plugin cancels every watchdog when a test fails, and
    # the teardown that follows a timeout is where a stuck thread is joined.
    _Guard.arm()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown() -> None:
    _Guard.arm()


def pytest_unconfigure(config: pytest.Config) -> None:
    # What runs after this (atexit handlers, joining threads) has no timeout of its own.
    _Guard.arm(float(config.getini("hang_guard_exit")))
