"""Validating a hostile document in a child process, bounded in time and memory.

A regression on these documents (an alias bomb, a deep nesting) would take
gigabytes or minutes in the test process itself; in a child it fails the test
instead: ``timeout=`` bounds the time and RLIMIT_AS the address space.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_CHILD = """
import json, resource, sys, time, tracemalloc
limit = int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from podium.dsl import validate
text = open(sys.argv[1], encoding="utf-8").read()
source = json.loads(text) if sys.argv[3] == "data" else text
measure = sys.argv[2] == "memory"
if measure:
    tracemalloc.start()
seconds = float("inf")
for _ in range(int(sys.argv[5])):
    started = time.process_time()
    problems = validate(source, {"yaml": "doc.yaml", "json": "doc.json"}.get(sys.argv[3]))
    seconds = min(seconds, time.process_time() - started)
peak = tracemalloc.get_traced_memory()[1] if measure else 0
print(json.dumps({"problems": [str(p) for p in problems], "peak": peak, "seconds": seconds}))
"""

# The child's address space: the interpreter with pydantic and libjq loaded, and
# some room; an alias bomb or a runaway recursion goes far past it.
_ADDRESS_SPACE = 2 * 1024**3


@dataclass(frozen=True)
class Outcome:
    problems: list[str]
    peak: int  # bytes tracemalloc saw at most (0 unless measured)
    seconds: float  # CPU seconds validate took (the least of the runs)


def validate_isolated(
    text: str, tmp_path: Path, *, memory: bool = False, json_name: bool = False,
    as_data: bool = False, repeat: int = 1, timeout: float = 60,
) -> Outcome:
    """``podium.dsl.validate(text)`` in a child process (named doc.yaml, or
    doc.json with ``json_name``; ``as_data``: the JSON text parsed, given as a
    mapping); a crash, a timeout or a traceback fails.
    ``seconds`` is the least of ``repeat`` runs (a shared machine only adds time)."""
    source = tmp_path / "document.txt"
    source.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(source), "memory" if memory else "time",
         "data" if as_data else "json" if json_name else "yaml", str(_ADDRESS_SPACE),
         str(repeat)],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == "", result.stderr[-3000:]
    data = json.loads(result.stdout)
    return Outcome(data["problems"], data["peak"], data["seconds"])
