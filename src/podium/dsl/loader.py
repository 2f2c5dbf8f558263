"""Reading a workflow document: YAML 1.2 or JSON text -> plain data + positions.

A document is JSON data, written as YAML or as JSON. Before it is parsed, its size
is checked (MAX_DOCUMENT_BYTES) and characters YAML forbids are reported where they
are. JSON text (starting with ``{`` or ``[``) must be strict JSON: no trailing comma,
no NaN. Then ``_yaml.compose`` reads it within the limits (depth, aliases) and
keeps only JSON data, remembering where every key and item is, so that each
problem names its file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.error import MarkedYAMLError

from podium.dsl import strict_json
from podium.dsl._yaml import Composed, Refused, compose
from podium.dsl.strict_json import (
    JSONDataError,
    JSONTextError,
    Pointer,
    position,
    to_pointer,
)
from podium.limits import MAX_DOCUMENT_BYTES

__all__ = [
    "InvalidWorkflowError", "Pointer", "Problem", "Source", "parse_text", "read_source",
    "to_pointer",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, located as precisely as we can."""

    file: str
    line: int
    column: int
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.pointer}: {self.message}"


class InvalidWorkflowError(Exception):
    """The document cannot run: it lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Source:
    """Parsed document data with the position of every key and item."""

    name: str
    data: Any
    positions: dict[Pointer, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Pointer) -> tuple[int, int]:
        """1-based line and column of the deepest known node on ``path``."""
        for end in range(len(path), 0, -1):
            found = self.positions.get(tuple(path[:end]))
            if found:
                return found
        return (1, 1)

    def problem(self, path: Pointer, message: str) -> Problem:
        line, column = self.locate(path)
        return Problem(self.name, line, column, to_pointer(path), message)


# Characters YAML 1.2 does not allow in a stream (5.1 "Character Set"): C0 controls
# but tab, LF and CR; DEL; C1 controls but NEL; surrogates; U+FFFE and U+FFFF.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _is_json(text: str, name: str) -> bool:
    """JSON text: a document starting with ``{`` or ``[`` that is not named as YAML
    (a .yaml file in flow style stays YAML, where a trailing comma is allowed)."""
    if name.endswith((".yaml", ".yml")):
        return False
    return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def parse_text(text: str, name: str) -> Source:
    """Parse YAML 1.2 or JSON text; a syntax error or anything that is not JSON data
    (a tag, a complex or null key, NaN) becomes a located problem."""
    _check_text(text, name)
    data = _json_data(text, name) if _is_json(text, name) else None
    try:
        composed = _compose_within_limits(text, name)
    except MarkedYAMLError as exc:
        if data is not None:
            # JSON that YAML cannot read (a key over 1,024 characters): the JSON
            # parser's data stands, without positions.
            return Source(name, data)
        raise InvalidWorkflowError([_syntax_problem(exc, name)]) from None
    problems = _problems(composed, name)
    if problems:
        raise InvalidWorkflowError(problems)
    # For JSON the JSON parser's data is the reference (YAML would read the escape
    # pair "\ud83d\ude00" as two lone surrogates, JSON as one character).
    return Source(name, composed.data if data is None else data, composed.positions)


def _check_text(text: str, name: str) -> None:
    """Refuse a document too large to parse, or holding a character YAML forbids."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidWorkflowError([Problem(name, 1, 1, "/", _too_large(size))])
    unprintable = _NOT_PRINTABLE.search(text)
    if unprintable is not None:
        line, column = position(text, unprintable.start())
        code = ord(unprintable.group())
        raise InvalidWorkflowError([Problem(
            name, line, column, "/",
            f"invalid YAML: the control character U+{code:04X} is not allowed in a document "
            f"(write it as an escape, \\x{code:02x}, in a double-quoted string)"
            if code < 0x100 else
            f"invalid YAML: the character U+{code:04X} is not allowed in a document",
        )])


def _json_data(text: str, name: str) -> Any:
    """The data of JSON text, or its first problem as JSON reports it."""
    try:
        return strict_json.loads(text)
    except JSONTextError as exc:
        problem = Problem(name, exc.line, exc.column, "/", f"invalid JSON: {exc.message}")
        if exc.too_deep:
            # Composing stops at the same bracket, and knows its pointer.
            with suppress(MarkedYAMLError):
                _compose_within_limits(text, name)
    except JSONDataError as exc:
        problem = Problem(name, 1, 1, to_pointer(exc.path), exc.message)
        # Composing finds the same (a lone surrogate), and knows where it is.
        with suppress(MarkedYAMLError):
            problems = _problems(_compose_within_limits(text, name), name)
            if problems:
                raise InvalidWorkflowError(problems) from None
    raise InvalidWorkflowError([problem])


def _problems(composed: Composed, name: str) -> list[Problem]:
    return [
        Problem(name, p.line, p.column, to_pointer(p.path), p.message)
        for p in sorted(composed.problems, key=lambda p: (p.line, p.column))
    ]


def _compose_within_limits(text: str, name: str) -> Composed:
    try:
        return compose(text)
    except Refused as exc:
        raise InvalidWorkflowError(
            [Problem(name, exc.line, exc.column, to_pointer(exc.path), exc.message)]
        ) from None


def _too_large(size: int | None) -> str:
    known = "" if size is None else f" ({size:,} bytes)"
    return (
        f"the document is larger{known} than the limit of {MAX_DOCUMENT_BYTES:,} bytes "
        f"({MAX_DOCUMENT_BYTES // 1024:,} KiB)"
    )


def _syntax_problem(exc: MarkedYAMLError, name: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = f"invalid YAML: {exc.problem or 'syntax error'}"
    if exc.context:
        message += f" ({exc.context}"
        if exc.context_mark and exc.problem_mark and exc.context_mark.line != mark.line:
            message += f" started at line {exc.context_mark.line + 1}"
        message += ")"
    if "'\\t'" in message:
        message += "; YAML indents with spaces, not tabs"
    return Problem(name, line, column, "/", message)


def read_source(source: str | Path | Mapping[str, Any], name: str | None = None) -> Source:
    """A document from a path, from YAML/JSON text, or from already-parsed data."""
    if isinstance(source, Mapping):
        name = name or "<workflow>"
        data = dict(source)
        problem = strict_json.data_problem(data)
        if problem is not None:
            raise InvalidWorkflowError([Problem(name, 1, 1, to_pointer(problem[0]), problem[1])])
        return Source(name, data)
    if isinstance(source, Path) or _looks_like_path(source):
        path = Path(source)
        return parse_text(_read(path), name or str(path))
    return parse_text(source, name or "<workflow>")


def _read(path: Path) -> str:
    def refuse(reason: str) -> InvalidWorkflowError:
        return InvalidWorkflowError([Problem(str(path), 1, 1, "/", reason)])

    try:
        with path.open("rb") as file:
            # Never more than the limit (and one byte to tell): a hostile file may
            # be endless (/dev/zero) or huge.
            content = file.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read file: {exc.strerror or exc}") from None
    if len(content) > MAX_DOCUMENT_BYTES:
        try:
            size: int | None = path.stat().st_size
        except OSError:  # pragma: no cover - it was just read
            size = None
        raise refuse(_too_large(size if size and size > MAX_DOCUMENT_BYTES else None))
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"cannot read file: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None


def _looks_like_path(text: str) -> bool:
    if "\n" in text or not text.strip() or text.lstrip().startswith(("{", "[")):
        return False
    if text.endswith((".yaml", ".yml", ".json")):
        return True
    try:
        if Path(text).is_file():
            return True
    except (OSError, ValueError):  # too long for a file name, or a NUL in it
        return False
    # One line without a `key: value` cannot be a workflow: it names a file.
    return ": " not in text and not text.rstrip().endswith(":")
