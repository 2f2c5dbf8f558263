"""Reading a workflow document: YAML 1.2 or JSON text -> plain data + positions.

ruamel.yaml parses YAML 1.2 (the key ``on:`` stays the string ``"on"``) and
refuses duplicate keys; its round-trip nodes remember where every key and item
is, which lets each problem name its file, line and column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

Pointer = tuple[str | int, ...]


def to_pointer(path: Pointer) -> str:
    """A JSON pointer (RFC 6901) for a path of keys and indices."""
    if not path:
        return "/"
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


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


def _plain(node: Any, path: Pointer, positions: dict[Pointer, tuple[int, int]]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            try:
                line, col = node.lc.key(key)
                positions[child] = (line + 1, col + 1)
            except (KeyError, TypeError):  # pragma: no cover - merged keys have no mark
                pass
            out[str(key)] = _plain(value, child, positions)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                line, col = node.lc.item(index)
                positions[child] = (line + 1, col + 1)
            except (KeyError, TypeError):  # pragma: no cover
                pass
            items.append(_plain(value, child, positions))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.datetime | dt.date):
        # A YAML timestamp: expressions and events deal in ISO 8601 strings.
        return node.isoformat()
    return node


def parse_text(text: str, name: str) -> Source:
    """Parse YAML 1.2 or JSON text; a syntax error becomes a located problem."""
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(
            part.strip() for part in (exc.context, exc.problem) if part
        ) or "invalid YAML/JSON"
        raise InvalidWorkflowError([Problem(name, line, column, "/", reason)]) from None
    positions: dict[Pointer, tuple[int, int]] = {}
    data = _plain(node, (), positions)
    return Source(name, data, positions)


def read_source(source: str | Path | Mapping[str, Any], name: str | None = None) -> Source:
    """A document from a path, from YAML/JSON text, or from already-parsed data."""
    if isinstance(source, Mapping):
        return Source(name or "<workflow>", dict(source))
    if isinstance(source, Path) or ("\n" not in source and _looks_like_path(source)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidWorkflowError(
                [Problem(str(path), 1, 1, "/", f"cannot read file: {exc.strerror or exc}")]
            ) from None
        return parse_text(text, name or str(path))
    return parse_text(source, name or "<workflow>")


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml", ".json")) or Path(text).is_file()
