"""What the static checks can still see in a document the model refused.

A document with an unknown task kind (``foo: {}``) fails the model, and without a
model the static checks (flow targets, ``use.*`` references, expressions) used to
be skipped: a user fixed one problem only to meet the next. Here every part that
holds a model error is replaced by a placeholder that validates and contains
nothing to check: a broken task becomes an empty ``set`` under the same name (so
``then: itsName`` elsewhere still resolves), a broken ``use.errors`` entry a
valid error under the same name (so references to it still resolve), and so on.
The checks then run on the rest; their problems inside a placeholder are dropped.
"""

from __future__ import annotations

from typing import Any

from podium.dsl._yaml import _copy
from podium.dsl.loader import Pointer

# Keys whose value is a list of named tasks (dsl-reference: do, for, try, catch.do,
# fork.branches, listen.foreach.do, extension before/after).
_TASK_LISTS = frozenset({"do", "try", "branches", "before", "after"})

_TASK: dict[str, Any] = {"set": {"placeholder": True}}

# A valid entry of each named table of `use`, for an entry the model refused.
_USE_ENTRIES: dict[str, Any] = {
    "authentications": {"bearer": {"token": "placeholder"}},
    "errors": {"type": "https://podium.invalid/placeholder", "status": 400},
    "functions": _TASK,
    "retries": {},
    "timeouts": {"after": "PT1S"},
    "catalogs": {"endpoint": "https://podium.invalid/"},
}

_DOCUMENT = {"dsl": "1.0.3", "namespace": "placeholder", "name": "placeholder",
             "version": "0.0.0"}


def _at(data: Any, path: Pointer) -> Any:
    for part in path:
        in_dict = isinstance(data, dict) and isinstance(part, str) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            return None
        data = data[part]
    return data


def _is_task_list(data: Any, path: Pointer) -> bool:
    return bool(path) and path[-1] in _TASK_LISTS and isinstance(_at(data, path), list)


def _target(data: Any, error: Pointer) -> tuple[Pointer, Any] | None:
    """The part to replace for an error at ``error``, and its placeholder."""
    # The innermost task that holds the error.
    for end in range(len(error), 0, -1):
        head = error[:end]
        if (len(head) >= 3 and isinstance(head[-2], int) and isinstance(head[-1], str)
                and _is_task_list(data, head[:-2])):
            return head, _TASK
        if len(head) == 3 and head[:2] == ("use", "functions"):
            return head, _TASK
        if len(head) >= 2 and isinstance(head[-1], int) and _is_task_list(data, head[:-1]):
            # The item itself is wrong (two tasks, or no mapping): keep its first name.
            item = _at(data, head)
            name = next(iter(item), f"item{head[-1]}") if isinstance(item, dict) else (
                f"item{head[-1]}"
            )
            return head, {str(name): _TASK}
    top = error[0] if error else None
    if top == "document":
        return ("document",), _DOCUMENT
    if top == "do":
        return ("do",), []
    if top == "use" and len(error) >= 3 and error[1] in _USE_ENTRIES:
        return error[:3], _USE_ENTRIES[str(error[1])]
    if top == "use" and len(error) >= 3 and error[1] == "extensions":
        return error[:3], {"placeholder": {"extend": "all"}}
    if top == "use" and len(error) >= 2:
        return error[:2], None  # None: remove the key
    if top in ("use", "input", "output", "timeout", "schedule", "evaluate"):
        return (top,), None
    return None


def _replace(data: Any, path: Pointer, value: Any) -> bool:
    parent = _at(data, path[:-1])
    key = path[-1]
    if isinstance(parent, dict) and isinstance(key, str):
        if value is None:
            parent.pop(key, None)
        else:
            parent[key] = _copy(value)
        return True
    if isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
        parent[key] = _copy(value if value is not None else _TASK)
        return True
    return False


def salvage(data: dict[str, Any], errors: list[Pointer],
            replaced: set[Pointer]) -> dict[str, Any] | None:
    """A copy of ``data`` with the parts holding ``errors`` replaced (their paths
    added to ``replaced``), or None when an error is in no part that can be."""
    copy: dict[str, Any] = _copy(data)
    for error in errors:
        if inside(error, replaced):
            continue
        target = _target(copy, error)
        if target is None or not _replace(copy, *target):
            return None
        replaced.add(target[0])
    return copy


def inside(path: Pointer, replaced: set[Pointer]) -> bool:
    """Whether ``path`` is in a replaced part (its prefixes are as many as the
    nesting is deep, whatever the number of parts)."""
    return any(path[:end] in replaced for end in range(len(path) + 1))
