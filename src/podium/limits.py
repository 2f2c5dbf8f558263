"""The limits that keep one hostile document, input or expression from taking a
process down with it (README "Limits"). Every boundary checks the one that
concerns it and fails with a clear error: a document or ``--input`` is refused
before anything runs (exit 2); data produced at run time faults the instance.

The values are deliberately generous for real workflows and far below what
would exhaust a worker: Step Functions allows 256 KiB payloads and 25,000 history
events, Temporal 2 MiB payloads and 51,200 events.
"""

from __future__ import annotations

from typing import Any

# Nesting of objects and arrays, in documents and in data (inputs, outputs, HTTP
# bodies, expression results). Deeper structures are refused, never recursed into.
MAX_DEPTH = 100

# A workflow document's text (YAML or JSON).
MAX_DOCUMENT_BYTES = 1024 * 1024

# YAML aliases: nodes an alias may stand for, added up over the whole document
# (an alias of a 9-item list counts 9 more, and so on down). A "billion laughs"
# document of 1 KB expands to 10^9 nodes; a real one reuses a few blocks.
MAX_ALIAS_EXPANSION = 10_000

# A payload entering or leaving an instance, as JSON text: workflow input, an HTTP
# response body, a task's output or exported context when it is journaled.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024

# Journal entries of one instance (about two per task run): an instance that
# loops forever faults instead of filling the disk.
MAX_HISTORY_ENTRIES = 50_000

# The longest duration a document may state or compute (a wait, a timeout, a
# retry delay): 100 years of 365 days. Beyond it datetimes overflow anyway.
MAX_DURATION_SECONDS = 100 * 365 * 86400.0

# A runtime expression that may loop or allocate without bound runs in a child
# process with these budgets (podium.expressions.sandbox); a task or workflow
# timeout that expires first wins.
EXPRESSION_TIMEOUT_SECONDS = 10.0
EXPRESSION_MEMORY_BYTES = 1024 * 1024 * 1024

# libjq folds constants while it compiles (`"x" * 2000000000` allocates 2 GB in
# `jq.compile`): a program that may do so compiles in a child with the memory
# budget above and this time budget, and all such checks made while loading one
# document share the second budget, so validating any document stays bounded.
EXPRESSION_COMPILE_SECONDS = 5.0
DOCUMENT_COMPILE_SECONDS = 20.0

# Times an instance may stop its worker (crash, kill, lost lease) without making
# progress before it is quarantined instead of being run again.
MAX_CRASHES = 3


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (JSON-like data) nests more than ``limit`` levels of
    objects and arrays. Iterative: it never recurses, whatever the depth."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | tuple)
        )
    return False
