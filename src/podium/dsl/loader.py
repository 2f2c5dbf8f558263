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
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def parse_text(text: str, name: str) -> Source:
    """Parse YAML 1.2 or JSON text; a syntax error becomes a located problem."""
    try:
        node = _yaml().load(text)
    except DuplicateKeyError as exc:
        # ruamel stops at the first duplicate and quotes both values in full;
        # the node graph tells every duplicate and where its key came first.
        problems = _duplicate_keys(text, name) or [_syntax_problem(exc, name)]
        raise InvalidWorkflowError(problems) from None
    except MarkedYAMLError as exc:
        raise InvalidWorkflowError([_syntax_problem(exc, name)]) from None
    except YAMLError as exc:  # e.g. a control character the reader refuses
        raise InvalidWorkflowError([Problem(name, 1, 1, "/", f"invalid YAML: {exc}")]) from None
    positions: dict[Pointer, tuple[int, int]] = {}
    data = _plain(node, (), positions)
    return Source(name, data, positions)


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


def _duplicate_keys(text: str, name: str) -> list[Problem]:
    problems: list[Problem] = []
    visited: set[int] = set()

    def walk(node: Node, path: Pointer) -> None:
        if id(node) in visited:  # an alias: its anchor was walked already
            return
        visited.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[tuple[str | None, str], int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    continue
                child = (*path, str(key_node.value))
                ident = (key_node.tag, key_node.value)
                if ident in first and key_node.value != "<<":
                    problems.append(Problem(
                        name, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                        to_pointer(child),
                        f"duplicate key '{key_node.value}' (first defined at line {first[ident]})",
                    ))
                else:
                    first.setdefault(ident, key_node.start_mark.line + 1)
                walk(value_node, child)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    try:
        root = _yaml().compose(text)
    except YAMLError:  # pragma: no cover - load composed the same text already
        return []
    if root is not None:
        walk(root, ())
    return problems


def read_source(source: str | Path | Mapping[str, Any], name: str | None = None) -> Source:
    """A document from a path, from YAML/JSON text, or from already-parsed data."""
    if isinstance(source, Mapping):
        return Source(name or "<workflow>", dict(source))
    if isinstance(source, Path) or _looks_like_path(source):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InvalidWorkflowError(
                [Problem(str(path), 1, 1, "/", f"cannot read file: {reason}")]
            ) from None
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise InvalidWorkflowError(
                [Problem(str(path), 1, 1, "/", f"cannot read file: {reason}")]
            ) from None
        return parse_text(text, name or str(path))
    return parse_text(source, name or "<workflow>")


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
