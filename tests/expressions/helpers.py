"""Watching sandbox children from tests."""

from __future__ import annotations

import asyncio
import os

from podium.expressions.sandbox import Sandbox


async def busy_children(sandbox: Sandbox) -> list[int]:
    """The pids of the children evaluating right now, once there is one."""
    for _ in range(500):
        if sandbox._busy:
            return [child.process.pid for child in sandbox._busy]
        await asyncio.sleep(0.02)
    raise AssertionError("no evaluation started in the sandbox")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): it is dead once it is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
