"""JSON-compatible YAML: ruamel's parser events, composed here into plain data and
the position of every key and item, without recursion and within the limits.

ruamel.yaml scans and parses (YAML 1.2: ``on:`` stays a string); its composer
and constructors are not used, because a hostile document turns each of them
against the process:

- they recurse once per nesting level (``RecursionError`` at a few hundred);
  here nesting deeper than MAX_DEPTH stops at the first container past it;
- an alias is shared while composing but copied while constructing, so a 1 KB
  "billion laughs" builds 10^9 nodes; here every alias adds the nodes it stands
  for to a count, and composing stops at the alias that takes it past
  MAX_ALIAS_EXPANSION;
- the round-trip scanner builds each comment one character at a time
  (``comment += ch``), quadratic in the length of a comment line; the safe
  scanner used here skips comments;
- they construct anything a tag names (``!!binary`` bytes, ``!!set``, any
  ``!tag`` object), which a workflow cannot hold: here only the core schema's
  JSON types come out, with string keys and finite numbers (ADR: a document is
  JSON data written as YAML; YAML timestamps become ISO 8601 strings, as before).

Problems that do not stop reading (a tag, a key, a duplicate) are collected, so
one pass reports them all; the ones that do raise ``Refused``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
)
from ruamel.yaml.nodes import ScalarNode

from podium.dsl.strict_json import Pointer
from podium.limits import MAX_ALIAS_EXPANSION, MAX_DEPTH

_CORE = "tag:yaml.org,2002:"
_STR, _NULL, _MERGE = _CORE + "str", _CORE + "null", _CORE + "merge"
# Scalar tags whose values JSON can hold (a timestamp becomes an ISO 8601 string).
_SCALAR_TAGS = {_STR, _NULL, _CORE + "bool", _CORE + "int", _CORE + "float", _CORE + "timestamp"}
_MAP, _SEQ = _CORE + "map", _CORE + "seq"
_SURROGATE = re.compile("[\ud800-\udfff]")

Position = tuple[int, int]


class Refused(Exception):
    """Reading stops here: the document cannot be composed any further."""

    def __init__(self, line: int, column: int, path: Pointer, message: str) -> None:
        self.line, self.column, self.path, self.message = line, column, path, message
        super().__init__(message)


@dataclass(frozen=True)
class Located:
    line: int
    column: int
    path: Pointer
    message: str


@dataclass
class Composed:
    data: Any
    positions: dict[Pointer, Position]
    problems: list[Located] = field(default_factory=list)


def _unicode(text: str) -> str | None:
    """``text`` with escaped surrogate pairs (``"\\ud83d\\ude00"``, as JSON writes
    them) joined into their character; None if a lone surrogate remains."""
    if _SURROGATE.search(text) is None:
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return None if _SURROGATE.search(joined) else joined


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _quoted(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _mark(event: Event) -> Position:
    return event.start_mark.line + 1, event.start_mark.column + 1


# A mapping's state between its keys and values.
_NEXT_KEY = object()  # waiting for a key
_DROPPED = object()  # the key was refused: its value is composed and dropped
_MERGING = object()  # the key is `<<`: its value is merged at the end


class _Frame:
    """A mapping or sequence being composed."""

    __slots__ = ("anchor", "as_key", "height", "key", "lines", "merge_at", "merges", "path",
                 "size", "start", "value")

    def __init__(self, value: dict[str, Any] | list[Any], path: Pointer, anchor: str | None,
                 start: int, as_key: bool) -> None:
        self.value = value
        self.path = path
        self.anchor = anchor
        self.as_key = as_key  # a mapping or list used as a key: refused, then dropped
        self.start = start  # where this subtree's positions begin in Composer.order
        self.size = 1  # nodes in the subtree, aliases expanded
        self.height = 1  # containers nested in the subtree, itself included
        self.key: object | str = _NEXT_KEY
        self.lines: dict[str, int] = {}  # key -> line it was first defined at
        self.merges: list[tuple[Any, Position]] = []
        self.merge_at: Position = (0, 0)  # where the pending `<<` key is


@dataclass
class _Anchor:
    value: Any
    size: int
    height: int
    path: Pointer
    start: int  # its subtree's positions: Composer.order[start:end]
    end: int
    tag: str | None = None  # a scalar's resolved tag and text, for a key alias
    text: str | None = None


class _Composer:
    def __init__(self, yaml: YAML) -> None:
        self.yaml = yaml
        self.frames: list[_Frame] = []
        self.anchors: dict[str, _Anchor | None] = {}  # None: still being composed
        self.order: list[tuple[Pointer, Position]] = []
        self.problems: list[Located] = []
        self.expanded = 0
        self.root: Any = None
        self.documents = 0

    # where the next node goes ------------------------------------------------------------

    def _is_key(self) -> bool:
        return bool(self.frames) and isinstance(self.frames[-1].value, dict) and (
            self.frames[-1].key is _NEXT_KEY
        )

    def _path(self) -> Pointer:
        """The path of the node about to be composed; -1 under a mapping for a key
        or a dropped value (no JSON pointer can name those)."""
        if not self.frames:
            return ()
        top = self.frames[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if isinstance(top.key, str):
            return (*top.path, top.key)
        return (*top.path, -1)

    def _locate_item(self, where: Position) -> None:
        if self.frames and isinstance(self.frames[-1].value, list):
            self.order.append((self._path(), where))

    def _add(self, value: Any, size: int, height: int, as_key: bool = False) -> None:
        """Place a finished node in its parent (or make it the document)."""
        if not self.frames:
            self.root = value
            return
        top = self.frames[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        if as_key:
            return  # refused already; its value follows, to be dropped
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _MERGING:
            top.merges.append((value, top.merge_at))
            top.key = _NEXT_KEY
        else:
            if isinstance(top.key, str):
                top.value[top.key] = value
            top.key = _NEXT_KEY

    def _problem(self, where: Position, path: Pointer, message: str) -> None:
        self.problems.append(Located(*where, path, message))

    # keys ----------------------------------------------------------------------------------

    def _key(self, tag: str, text: str, explicit: bool, where: Position) -> None:
        """A scalar key: its text as written (JSON keys are strings; ``200:`` names
        "200", ``true:`` names "true")."""
        top = self.frames[-1]
        top.key = _DROPPED
        if tag == _MERGE:
            top.merge_at = where
            top.key = _MERGING
        elif explicit and tag not in _SCALAR_TAGS:
            self._problem(where, top.path, f"the tag {_short(tag)} is not JSON data: a key is "
                                           "a string")
        elif tag == _NULL:
            hint = f" (quote it to use the text {text!r})" if text else ""
            self._problem(where, top.path, f"a key must be a string, not null{hint}")
        elif (key := _unicode(text)) is None:
            self._problem(where, top.path, "a key is not valid Unicode (a lone surrogate)")
        elif key in top.lines:
            self._problem(where, (*top.path, key),
                          f"duplicate key {key!r} (first defined at line {top.lines[key]})")
        else:
            top.lines[key] = where[0]
            top.key = key
            self.order.append(((*top.path, key), where))

    def _complex_key(self, where: Position, what: str) -> None:
        top = self.frames[-1]
        self._problem(where, top.path, f"a key must be a string, not {what}")
        top.key = _DROPPED

    # scalars -------------------------------------------------------------------------------

    def _tag(self, event: ScalarEvent) -> tuple[str, bool]:
        """The scalar's tag and whether the document wrote it."""
        written = None if event.ctag is None else str(event.ctag)
        if written is None:
            resolved = self.yaml.resolver.resolve(ScalarNode, event.value, event.implicit)
            return str(resolved), False
        if written == "!":
            return _STR, False  # the non-specific tag: a string (YAML 1.2, 6.9.1)
        return written, True

    def scalar(self, event: ScalarEvent) -> None:
        where = _mark(event)
        tag, explicit = self._tag(event)
        if self._is_key():
            self._key(tag, event.value, explicit, where)
            self.frames[-1].size += 1
            if event.anchor is not None:
                self.anchors[event.anchor] = _Anchor(
                    event.value, 1, 0, self.frames[-1].path, len(self.order), len(self.order),
                    tag, event.value,
                )
            return
        self._locate_item(where)
        path = self._path()
        value = self._value(event, tag, explicit, where, path)
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(
                value, 1, 0, path, len(self.order), len(self.order), tag, event.value
            )
        self._add(value, 1, 0)

    def _value(self, event: ScalarEvent, tag: str, explicit: bool, where: Position,
               path: Pointer) -> Any:
        text: str = event.value
        if tag not in _SCALAR_TAGS:
            if explicit:
                self._problem(where, path, f"the tag {_short(tag)} is not JSON data: use plain "
                                           "strings, numbers, booleans, null, mappings and lists")
                return None
            # Implicit `<<` as a value, `=`: YAML 1.1 leftovers, plain text in 1.2.
            tag = _STR
        if tag == _STR:
            joined = _unicode(text)
            if joined is None:
                self._problem(where, path, "not valid Unicode (a lone surrogate)")
            return joined
        try:
            value = self.yaml.constructor.yaml_constructors[tag](
                self.yaml.constructor, ScalarNode(tag, text, event.start_mark, event.end_mark)
            )
        except Exception as exc:  # ruamel and int() say why in their own words
            reason = getattr(exc, "problem", None) or str(exc)
            self._problem(where, path, f"{_quoted(text)} is not a valid {_short(tag)}: {reason}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self._problem(where, path, f"{_quoted(text)} is not a JSON number (JSON has no "
                                       "infinity or NaN)")
            return None
        if isinstance(value, date):
            # A YAML timestamp: expressions and events deal in ISO 8601 strings.
            return value.isoformat()
        return value

    # aliases -------------------------------------------------------------------------------

    def alias(self, event: AliasEvent) -> None:
        where = _mark(event)
        name = event.anchor
        if name not in self.anchors:
            raise Refused(*where, self._path(), f"undefined alias *{name}")
        anchor = self.anchors[name]
        if anchor is None:
            raise Refused(*where, self._path(), f"the alias *{name} is inside its own anchor "
                                                "(a cycle JSON cannot hold)")
        if self._is_key():
            if anchor.tag is None or anchor.text is None:
                self._complex_key(where, "an alias of a mapping or list")
            else:
                self._key(anchor.tag, anchor.text, False, where)
            self.frames[-1].size += anchor.size
            return
        self._locate_item(where)
        path = self._path()
        self.expanded += anchor.size
        if self.expanded > MAX_ALIAS_EXPANSION:
            raise Refused(*where, path,
                          f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} nodes")
        if len(self.frames) + anchor.height > MAX_DEPTH:
            raise Refused(*where, path, f"nested deeper than {MAX_DEPTH} levels (through the "
                                        f"alias *{name})")
        # The subtree's positions, moved under this path, so that a problem inside an
        # alias is reported where the anchor's text is.
        cut = len(anchor.path)
        self.order.extend(
            ((*path, *inner[cut:]), at) for inner, at in self.order[anchor.start:anchor.end]
        )
        self._add(_copy(anchor.value), anchor.size, anchor.height)

    # mappings and sequences ----------------------------------------------------------------

    def start(self, event: CollectionStartEvent) -> None:
        where = _mark(event)
        is_map = isinstance(event, MappingStartEvent)
        as_key = self._is_key()
        if as_key:
            self._complex_key(where, "a mapping" if is_map else "a list")
        else:
            self._locate_item(where)
        path = self._path()
        if len(self.frames) >= MAX_DEPTH:
            raise Refused(*where, path, f"nested deeper than {MAX_DEPTH} levels")
        written = None if event.ctag is None else str(event.ctag)
        expected = _MAP if is_map else _SEQ
        if written not in (None, "!", expected):
            self._problem(where, path, f"the tag {_short(written)} is not JSON data: use plain "
                                       "mappings and lists")
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.frames.append(
            _Frame({} if is_map else [], path, event.anchor, len(self.order), as_key)
        )

    def end(self) -> None:
        frame = self.frames.pop()
        if isinstance(frame.value, dict) and frame.merges:
            self._merge(frame)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = _Anchor(
                frame.value, frame.size, frame.height, frame.path, frame.start, len(self.order)
            )
        self._add(frame.value, frame.size, frame.height, frame.as_key)

    def _merge(self, frame: _Frame) -> None:
        """``<<: *base`` (or a list of them) adds the keys the mapping lacks; the
        first mapping listed wins (yaml.org/type/merge.html)."""
        assert isinstance(frame.value, dict)
        for value, where in frame.merges:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(source, dict) for source in sources):
                self._problem(where, frame.path,
                              "a merge key (<<) takes a mapping or a list of mappings")
                continue
            for source in sources:
                for key, item in source.items():
                    if key not in frame.value:
                        frame.value[key] = item
                        self.order.append(((*frame.path, key), where))

    def document(self, event: DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            raise Refused(*_mark(event), (), "a second document in the stream (a workflow "
                                             "file holds one; remove the '---')")


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data, without recursion."""
    if not isinstance(value, dict | list):
        return value
    root: dict[str, Any] | list[Any] = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list):
                copied: Any = {} if isinstance(item, dict) else []
                stack.append((item, copied))
            else:
                copied = item
            if isinstance(target, dict):
                target[key] = copied
            else:
                target.append(copied)
    return root


def compose(text: str) -> Composed:
    """Plain data and positions (1-based) of a YAML 1.2 document. Raises ``Refused``,
    or ruamel's ``MarkedYAMLError`` for a syntax error."""
    yaml = YAML(typ="safe", pure=True)
    composer = _Composer(yaml)
    for event in yaml.parse(text):
        if isinstance(event, ScalarEvent):
            composer.scalar(event)
        elif isinstance(event, CollectionStartEvent):
            composer.start(event)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            composer.end()
        elif isinstance(event, AliasEvent):
            composer.alias(event)
        elif isinstance(event, DocumentStartEvent):
            composer.document(event)
    positions: dict[Pointer, Position] = {}
    for path, where in composer.order:
        positions.setdefault(path, where)
    return Composed(composer.root, positions, composer.problems)
