"""The benchmark workloads: in-memory workflow documents with no effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HEADER = {"dsl": "1.0.3", "namespace": "bench", "version": "0.1.0"}


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    document: dict[str, Any]
    input: Any


def set_chain(length: int = 10) -> Workload:
    """``length`` set tasks in a row, each adding one to a counter with jq."""
    tasks = [{f"step{i}": {"set": {"n": "${ .n + 1 }"}}} for i in range(length)]
    return Workload(
        name=f"set-chain-{length}",
        description=f"{length} `set` tasks in sequence, each evaluating one jq expression",
        document={"document": {**HEADER, "name": f"set-chain-{length}"}, "do": tasks},
        input={"n": 0},
    )


def fork(branches: int = 100) -> Workload:
    """One fork of ``branches`` concurrent branches, each one set task."""
    fork_branches = [
        {f"branch{i}": {"set": {"branch": i, "n": "${ .n }"}}} for i in range(branches)
    ]
    return Workload(
        name=f"fork-{branches}",
        description=f"one `fork` of {branches} branches, each a `set` task with one expression",
        document={
            "document": {**HEADER, "name": f"fork-{branches}"},
            "do": [{"fanOut": {"fork": {"compete": False, "branches": fork_branches}}}],
        },
        input={"n": 0},
    )


WORKLOADS = {w.name: w for w in (set_chain(10), fork(100))}


# Durable workloads (``python -m bench W1|W2|W3``): every step is a `set` that reads
# the clock (jq `now`), the kind of task whose outcome must be journaled and
# committed before the next task starts.


def durable_steps(length: int = 10) -> Workload:
    """``length`` trivial durable steps in a row (W1, W2)."""
    tasks = [{f"step{i}": {"set": {"step": i, "at": "${ now }"}}} for i in range(length)]
    return Workload(
        name=f"durable-steps-{length}",
        description=f"{length} `set` tasks in sequence, each reading the clock (jq `now`)",
        document={"document": {**HEADER, "name": f"durable-steps-{length}"}, "do": tasks},
        input={},
    )


def durable_fork(branches: int = 100) -> Workload:
    """One fork of ``branches`` trivial durable steps, joined (W3)."""
    fork_branches = [
        {f"branch{i}": {"set": {"branch": i, "at": "${ now }"}}} for i in range(branches)
    ]
    return Workload(
        name=f"durable-fork-{branches}",
        description=f"one `fork` of {branches} branches, each a `set` reading the clock",
        document={
            "document": {**HEADER, "name": f"durable-fork-{branches}"},
            "do": [{"fanOut": {"fork": {"compete": False, "branches": fork_branches}}}],
        },
        input={},
    )
