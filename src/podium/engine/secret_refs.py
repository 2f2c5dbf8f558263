"""Secret references: how journaled data holds a secret without storing it.

Replay must give a task exactly the data of the original run, and no secret may
be stored in clear (ARCHITECTURE "Durability"). So before data is journaled,
every occurrence of a secret value the instance has read (a whole string or a
substring, in values and object keys; each credential leaf of an object secret;
also its percent-encoded spelling, as a URI carries it) is replaced by a
*reference* to the secret; when the journal is read for replay, references are
resolved again from the runtime's current secret sources.

The encoding cannot be forged by data. A string that starts with ``MARKER``
(U+E000, a private-use character; never NUL, which PostgreSQL's JSONB refuses)
is either

- an escaped literal: the marker doubled, then the original string (which
  itself started with the marker), or
- a template: the marker, then a JSON list of literal parts (strings) and
  references (``{"secret": name, "path": [...]}``, with ``"encoding": "uri"``
  for the percent-encoded spelling).

Every other string is stored as it is, so history stays readable. Data that
starts with the marker is always escaped, so input crafted to look like a
reference comes back verbatim and is never resolved.

What is not protected: a secret *transformed* by an expression (lowercased,
base64-encoded, sliced, hashed) no longer contains the value, and is journaled
in clear. Secrets shorter than ``MIN_REDACTED_LENGTH`` are not referenced either:
they would match unrelated data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from podium.secrets import MIN_REDACTED_LENGTH, REDACTED, secret_leaves

MARKER = "\ue000"
_ESCAPED = MARKER + MARKER
_URI = "uri"

Path = tuple[str | int, ...]


class SecretUnavailable(LookupError):
    """A reference names a secret (or a part of one) the runtime cannot give."""

    def __init__(self, name: str, reason: str = "it is not available") -> None:
        super().__init__(name)
        self.name = name
        self.reason = reason


class MalformedReference(ValueError):
    """A journaled string starts with the marker but is not a valid template:
    the row was not written by this codec."""


class SecretReferences:
    """The secret values one instance has read, to journal them as references."""

    __slots__ = ("_pattern", "_references")

    def __init__(self) -> None:
        # value as it appears in data -> its reference
        self._references: dict[str, dict[str, Any]] = {}
        self._pattern: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return bool(self._references)

    def add(self, name: str, value: Any) -> None:
        """Remember the secret ``name``: each credential string in ``value``."""
        before = len(self._references)
        for path, text in secret_leaves(value):
            if len(text) < MIN_REDACTED_LENGTH:
                continue
            reference: dict[str, Any] = {"secret": name, "path": list(path)}
            self._references.setdefault(text, reference)
            quoted = quote(text, safe="")
            if quoted != text:
                self._references.setdefault(quoted, {**reference, "encoding": _URI})
        if len(self._references) != before:
            ordered = sorted(self._references, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def encode(self, data: Any) -> Any:
        """``data`` as it may be stored: references instead of secret values,
        marker-leading strings escaped. ``data`` itself when nothing changes."""
        pattern = self._pattern

        def changes(text: str) -> bool:
            return text.startswith(MARKER) or (
                pattern is not None and pattern.search(text) is not None
            )

        if not _any_string(data, changes):
            return data
        return map_strings(data, self._encode_string)

    def _encode_string(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or pattern.search(text) is None:
            return _ESCAPED + text[1:] if text.startswith(MARKER) else text
        parts: list[Any] = []
        end = 0
        for match in pattern.finditer(text):
            if match.start() > end:
                parts.append(text[end:match.start()])
            parts.append(self._references[match.group()])
            end = match.end()
        if end < len(text):
            parts.append(text[end:])
        return MARKER + json.dumps(parts, ensure_ascii=False, separators=(",", ":"))


def resolve(data: Any, secret: Callable[[str], Any]) -> Any:
    """Stored ``data`` back as it was journaled: references resolved through
    ``secret`` (name -> current value; raises ``SecretUnavailable``), escaped
    strings unescaped. ``data`` itself when it holds neither."""
    if not _any_string(data, _marked):
        return data
    return map_strings(data, lambda text: _resolve_string(text, secret))


def displayed(data: Any) -> Any:
    """Stored ``data`` for people (history views): every reference shown as
    ``***``, never resolved; escaped strings unescaped."""
    if not _any_string(data, _marked):
        return data

    def hidden(name: str) -> Any:
        raise SecretUnavailable(name)

    def show(text: str) -> str:
        if not text.startswith(MARKER) or text.startswith(_ESCAPED):
            return _resolve_string(text, hidden)
        return "".join(
            part if isinstance(part, str) else REDACTED for part in _template(text)
        )

    return map_strings(data, show)


def _marked(text: str) -> bool:
    return text.startswith(MARKER)


def _resolve_string(text: str, secret: Callable[[str], Any]) -> str:
    if not text.startswith(MARKER):
        return text
    if text.startswith(_ESCAPED):
        return text[1:]
    resolved: list[str] = []
    for part in _template(text):
        if isinstance(part, str):
            resolved.append(part)
            continue
        leaf = _follow(secret(part["secret"]), part["path"], part["secret"])
        resolved.append(quote(leaf, safe="") if part.get("encoding") == _URI else leaf)
    return "".join(resolved)


def _template(text: str) -> list[str | dict[str, Any]]:
    try:
        parts = json.loads(text[1:])
    except ValueError:
        raise MalformedReference("a secret reference that is not JSON") from None
    if not isinstance(parts, list) or not all(_is_part(part) for part in parts):
        raise MalformedReference("a secret reference of an unknown shape")
    return parts


def _is_part(part: Any) -> bool:
    if isinstance(part, str):
        return True
    return (
        isinstance(part, dict)
        and isinstance(part.get("secret"), str)
        and isinstance(part.get("path"), list)
        and all(isinstance(step, str | int) for step in part["path"])
        and part.get("encoding") in (None, _URI)
    )


def _follow(value: Any, path: list[str | int], name: str) -> str:
    for step in path:
        in_object = isinstance(value, dict) and isinstance(step, str) and step in value
        in_array = isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value)
        if in_object or in_array:
            value = value[step]
        else:
            where = "/".join(str(s) for s in path)
            raise SecretUnavailable(name, f"it no longer has the property '{where}'")
    if not isinstance(value, str):
        raise SecretUnavailable(name, "its value is no longer a string")
    return value


# Walking JSON-like data without recursion: data nested deeper than the
# interpreter's recursion limit must never crash the journal.


def _any_string(data: Any, test: Callable[[str], bool]) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if test(item):
                return True
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and test(key):
                    return True
                stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def map_strings(data: Any, convert: Callable[[str], str]) -> Any:
    """A copy of JSON-like ``data`` with every string, object keys included,
    passed through ``convert`` (tuples become lists, as they read back)."""
    pending: list[tuple[Any, Any]] = []

    def copy(item: Any) -> Any:
        if isinstance(item, str):
            return convert(item)
        if isinstance(item, dict):
            target: Any = {}
        elif isinstance(item, list | tuple):
            target = []
        else:
            return item
        pending.append((item, target))
        return target

    root = copy(data)
    while pending:
        source, target = pending.pop()
        if isinstance(source, dict):
            for key, value in source.items():
                target[convert(key) if isinstance(key, str) else key] = copy(value)
        else:
            target.extend(copy(value) for value in source)
    return root
