"""Guards for a process that runs instances (``podium worker``, ``podium run
--store``): a stall watchdog and a memory cap (README "Poison instances"), and
the garbage collector's settings for such a process.

Whatever blocks the event loop (a C library that loops, an expression engine
holding the GIL) also blocks every Python thread, so the watchdog is the
interpreter's C-level one, ``faulthandler.dump_traceback_later``: a heartbeat
coroutine re-arms it every second, and if the loop stops turning for longer
than the limit, the C thread dumps every thread's traceback to stderr and ends
the process (exit status 1). The instances it held are then taken over by
other workers, and the crash counter attributes the stall to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import io
import os
import re
import resource
import sys
from collections.abc import AsyncIterator
from typing import TextIO

# Collect the youngest generation after this many allocations (CPython: 700).
GC_YOUNG_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Settings for a process that hosts instances, once it has started.

    A worker holds many live instances, and CPython's collector walks the whole
    heap (the modules and DSL models loaded at start included) in every full
    collection, about 100 ms each here with a thousand instances in flight; and
    at the default young threshold it runs hundreds of young collections a second.
    ``gc.freeze()`` leaves what exists now (what start-up loaded, which lives as
    long as the process) out of every later collection, and a higher threshold
    collects young cycles less often: W2 spends 56 ms instead of 335 ms in the
    collector, about a fifth more workflows a second, at the same peak RSS
    (bench/README.md, "Garbage collection").
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)


# Default for --stall-limit: far above any legitimate pause of the event loop.
STALL_LIMIT_SECONDS = 60.0
HEARTBEAT_SECONDS = 1.0


def _stderr() -> TextIO | None:
    """A stream with a file descriptor for faulthandler (a test harness may have
    replaced ``sys.stderr`` with one that has none)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.fileno()
                return stream
        except (AttributeError, ValueError, io.UnsupportedOperation):
            continue
    return None


@contextlib.asynccontextmanager
async def stall_watchdog(limit: float | None) -> AsyncIterator[None]:
    """While inside, a blocked event loop ends the process after ``limit``
    seconds (tracebacks on stderr, exit status 1). ``None`` disables it."""
    stream = _stderr()
    if limit is None or stream is None:
        yield
        return
    beat = min(HEARTBEAT_SECONDS, limit / 4)

    async def heartbeat() -> None:
        while True:
            faulthandler.dump_traceback_later(limit, exit=True, file=stream)
            await asyncio.sleep(beat)

    task = asyncio.create_task(heartbeat(), name="podium-stall-watchdog")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        faulthandler.cancel_dump_traceback_later()


def parse_stall_limit(text: str) -> float | None:
    """Seconds (``60``, ``90s``, ``2m``), or ``never``. ``ValueError`` otherwise."""
    value = text.strip().lower()
    if value == "never":
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m)?", value)
    if match is None:
        raise ValueError("use seconds (60, 90s), minutes (2m) or never")
    seconds = float(match[1]) * (60 if match[2] == "m" else 1)
    if seconds < 2 * HEARTBEAT_SECONDS:
        raise ValueError(f"at least {2 * HEARTBEAT_SECONDS:g} seconds (or never)")
    return seconds


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Bytes in ``512M``, ``2G``, ``1.5GiB``, ``800MB`` (powers of 1,024) or a plain
    number of bytes. ``ValueError`` otherwise."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", text.strip().lower())
    if match is None:
        raise ValueError("use a size such as 512M, 2G or 1.5GiB")
    return int(float(match[1]) * _UNITS[match[2]])


def address_space() -> int:
    """Bytes of address space this process uses now (0 where /proc is missing)."""
    try:
        with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# Room to grow beyond what the process already uses, below which a cap would
# only make the worker fail at its first instance.
MEMORY_HEADROOM = 64 * 1024 * 1024


def cap_memory(limit: int) -> None:
    """Cap this process's address space (RLIMIT_AS, soft limit) at ``limit`` bytes:
    an allocation beyond it fails (MemoryError in Python, which faults the
    instance; an abort in a C library, which ends the worker and counts a crash).
    The hard limit is left as it is. ``ValueError`` if ``limit`` leaves no room."""
    used = address_space()
    if limit < used + MEMORY_HEADROOM:
        raise ValueError(
            f"{_mib(limit)} leaves no room: the worker already uses {_mib(used)}"
            f" of address space; give it at least {_mib(used + MEMORY_HEADROOM)}"
        )
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and limit > hard:
        raise ValueError(f"{_mib(limit)} is above this process's hard limit, {_mib(hard)}")
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _mib(size: int) -> str:
    return f"{size / 1024**2:.0f} MiB"
