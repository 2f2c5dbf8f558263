"""What Podium takes for JSON, as text and as data.

Python's ``json`` module is more lenient than JSON (RFC 8259): it reads ``NaN``
and ``Infinity``, recurses into nesting until ``RecursionError``, and keeps lone
surrogates such as ``"\\ud800"``, which no UTF-8 store or printer can write. Every
boundary where data enters (``--input``, a JSON workflow document, the input given
to ``Runtime.start``) goes through here instead, so that it is refused with a
clear message before anything runs (README "Limits").
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES

Pointer = tuple[str | int, ...]


def to_pointer(path: Pointer) -> str:
    """A JSON pointer (RFC 6901) for a path of keys and indices."""
    if not path:
        return "/"
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class JSONTextError(ValueError):
    """Text that is not strict JSON, with the 1-based line and column at fault."""

    def __init__(self, message: str, line: int, column: int, too_deep: bool = False) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.too_deep = too_deep  # nesting past MAX_DEPTH: nothing else was checked
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} (line {self.line}, column {self.column})"


class JSONDataError(ValueError):
    """Well-formed JSON holding what Podium does not accept (a lone surrogate)."""

    def __init__(self, path: Pointer, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message if not self.path else f"{to_pointer(self.path)}: {self.message}"


# The tokens that matter before json.loads may run: brackets (for the depth),
# the bare words Python accepts and JSON does not, and strings, skipped whole
# (written unrolled, `"[^"\\]*(?:\\.[^"\\]*)*"`, so that the regex engine takes
# long strings in one stride). A quote that opens no valid string ends the scan:
# json.loads then reports the real syntax error.
_TOKENS = re.compile(
    r'"[^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*"|(?P<open>[\[{])|(?P<close>[\]}])'
    r"|(?P<word>NaN|-?Infinity)|(?P<broken>\")"
)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _prescan(text: str) -> None:
    """Refuse nesting past MAX_DEPTH and NaN/Infinity, without recursing."""
    depth = 0
    for match in _TOKENS.finditer(text):
        if match["open"]:
            depth += 1
            if depth > MAX_DEPTH:
                raise JSONTextError(
                    f"nested deeper than {MAX_DEPTH} levels", *position(text, match.start()),
                    too_deep=True,
                )
        elif match["close"]:
            depth -= 1
        elif match["word"]:
            raise JSONTextError(
                f"{match['word']} is not a JSON number (JSON has no NaN or infinity)",
                *position(text, match.start()),
            )
        elif match["broken"]:
            return


def _refuse_constant(word: str) -> Any:  # pragma: no cover - _prescan finds them first
    raise ValueError(f"{word} is not a JSON number")


def loads(text: str) -> Any:
    """Parse strict JSON text: no NaN or Infinity, no trailing comma, nesting at most
    MAX_DEPTH deep, strings of valid Unicode. Raises ``JSONTextError`` (located in
    the text) or ``JSONDataError`` (located in the data)."""
    _prescan(text)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise _decode_error(text, exc) from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise JSONTextError(f"not JSON Podium can read: {exc}", 1, 1) from None
    problem = data_problem(value)
    if problem is not None:
        raise JSONDataError(*problem)
    return value


def _decode_error(text: str, exc: json.JSONDecodeError) -> JSONTextError:
    # Python says "Expecting property name" or "Expecting value" at the bracket
    # after a trailing comma: name the comma itself, where it is.
    if text[exc.pos : exc.pos + 1] in ("}", "]"):
        before = text[: exc.pos].rstrip()
        if before.endswith(","):
            where = position(text, len(before) - 1)
            return JSONTextError("trailing comma (JSON allows none)", *where)
    return JSONTextError(exc.msg, exc.lineno, exc.colno)


_SURROGATE = re.compile("[\ud800-\udfff]")


def data_problem(value: Any) -> tuple[Pointer, str] | None:
    """The first thing in ``value`` that is not JSON data Podium accepts, with its
    path: nesting past MAX_DEPTH, a key that is not a string, a value that is not a
    string, finite number, boolean, null, object or array, or a lone surrogate.
    Iterative: it never recurses, whatever the depth (a cycle counts as too deep)."""
    stack: list[tuple[Any, Pointer]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict | list | tuple):
            if len(path) >= MAX_DEPTH:
                return path, f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        return path, f"the key {key!r} is not a string"
                    if _SURROGATE.search(key):
                        return path, f"the key {key!r} is not valid Unicode (a lone surrogate)"
                    stack.append((child, (*path, key)))
            else:
                stack.extend((child, (*path, index)) for index, child in enumerate(item))
        elif isinstance(item, str):
            if _SURROGATE.search(item):
                return path, "not valid Unicode (a lone surrogate)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return path, f"{item} is not a JSON number (JSON has no NaN or infinity)"
        elif not (item is None or isinstance(item, bool | int)):
            return path, f"a {type(item).__name__} is not JSON data"
    return None


def payload_problem(value: Any) -> str | None:
    """Why ``value`` cannot enter an instance (``data_problem``, or larger than
    MAX_PAYLOAD_BYTES as compact JSON), or None when it can."""
    problem = data_problem(value)
    if problem is not None:
        return str(JSONDataError(*problem))
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        return f"{size:,} bytes of JSON, more than the limit of {MAX_PAYLOAD_BYTES:,}"
    return None
