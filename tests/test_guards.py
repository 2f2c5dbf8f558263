"""The process guards of ``podium worker`` (``podium.guards``): the stall watchdog
acts even while a C library holds the GIL, leaves a loop that turns alone, and
the option values parse as documented."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from podium.guards import parse_size, parse_stall_limit


def run_script(body: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent("""\
        import asyncio, time
        import jq
        from podium.guards import stall_watchdog

        async def main():
            async with stall_watchdog(2):
        {body}
        asyncio.run(main())
        print("finished")
    """).format(body=textwrap.indent(textwrap.dedent(body), " " * 12))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout)


def test_a_loop_blocked_inside_libjq_ends_the_process() -> None:
    # libjq holds the GIL for the whole evaluation: no Python thread could act.
    result = run_script("""\
        await asyncio.sleep(0.1)
        jq.compile("until(false; .)").input_value(0).first()
    """)
    assert result.returncode == 1
    assert "finished" not in result.stdout
    assert "Timeout (0:00:02)!" in result.stderr
    assert "in main" in result.stderr  # the traceback shows where the loop was stuck


def test_a_loop_that_keeps_turning_is_left_alone() -> None:
    result = run_script("""\
        for _ in range(40):
            await asyncio.sleep(0.1)
            time.sleep(0.05)  # short blocking pauses are fine
    """)
    assert (result.returncode, result.stdout) == (0, "finished\n"), result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"), [("60", 60.0), ("90s", 90.0), ("2m", 120.0), ("2.5", 2.5),
                          ("never", None), ("NEVER", None)],
)
def test_stall_limits(text: str, seconds: float | None) -> None:
    assert parse_stall_limit(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5", "1", "0", "5h"])
def test_bad_stall_limits(text: str) -> None:
    with pytest.raises(ValueError):
        parse_stall_limit(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1048576), ("512M", 512 * 1024**2), ("2G", 2 * 1024**3),
     ("1.5GiB", int(1.5 * 1024**3)), ("800MB", 800 * 1024**2), ("64k", 64 * 1024)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "2X", "G"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
