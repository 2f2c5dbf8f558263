"""JSON text written by orjson where it means what the standard library's would.

orjson is about ten times the standard library's speed per value (the store's
journal values, jq's input: bench/README.md), but it writes NaN and Infinity as
``null`` and refuses integers beyond 64 bits and keys that are not strings. So a
value whose orjson text holds ``null``, and a value orjson refuses, go through the
caller's own standard-library writer, which decides what NaN becomes (refused,
for the store) and spells the rest as it always did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson


def dumps(value: Any, fallback: Callable[[Any], str]) -> str:
    """``value`` as compact UTF-8 JSON text, or ``fallback(value)`` where orjson's
    text could differ in meaning (see the module's docstring)."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return fallback(value)
    return fallback(value) if b"null" in text else text.decode()
