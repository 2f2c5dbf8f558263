"""Small valid documents to mutate: one task of every kind, and a builder."""

from __future__ import annotations

import copy
from typing import Any

DOCUMENT = {"dsl": "1.0.3", "namespace": "test", "name": "mutant", "version": "0.1.0"}

ONE_STEP = [{"step": {"set": {"x": 1}}}]

# A valid task of every kind (and of every built-in call). None of them trips a
# static check: no flow target, `use.*` name or expression is left dangling.
TASKS: dict[str, dict[str, Any]] = {
    "call-http": {"call": "http", "with": {"method": "get", "endpoint": "https://example.com/pets"}},
    "call-openapi": {
        "call": "openapi",
        "with": {
            "document": {"endpoint": "https://example.com/openapi.json"},
            "operationId": "findPets",
        },
    },
    "call-grpc": {
        "call": "grpc",
        "with": {
            "proto": {"endpoint": "https://example.com/greeter.proto"},
            "service": {"name": "Greeter", "host": "example.com"},
            "method": "SayHello",
        },
    },
    "call-asyncapi": {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": "https://example.com/asyncapi.json"},
            "operation": "publishGreeting",
            "message": {"payload": {"greeting": "hi"}},
        },
    },
    "call-a2a": {"call": "a2a", "with": {"method": "message/send", "server": "https://example.com"}},
    "call-mcp": {
        "call": "mcp",
        "with": {"method": "tools/list", "transport": {"stdio": {"command": "mcp-server"}}},
    },
    "call-function": {"call": "greet", "with": {"name": "world"}},
    "do": {"do": ONE_STEP},
    "fork": {"fork": {"branches": ONE_STEP, "compete": True}},
    "emit": {
        "emit": {"event": {"with": {"source": "https://example.com", "type": "com.example.hi"}}}
    },
    "for": {"for": {"each": "pet", "in": "${ .pets }"}, "do": ONE_STEP},
    "listen": {"listen": {"to": {"one": {"with": {"type": "com.example.done"}}}}},
    "raise": {"raise": {"error": {"type": "https://example.com/errors/bad", "status": 400}}},
    "run-shell": {"run": {"shell": {"command": "echo hi"}}},
    "run-container": {"run": {"container": {"image": "alpine"}}},
    "run-script": {"run": {"script": {"language": "python", "code": "print(1)"}}},
    "run-workflow": {
        "run": {"workflow": {"namespace": "test", "name": "child", "version": "1.0.0"}}
    },
    "set": {"set": {"x": 1}},
    "switch": {
        "switch": [{"big": {"when": "${ .x > 1 }", "then": "end"}}, {"other": {"then": "exit"}}]
    },
    "try": {"try": ONE_STEP, "catch": {"errors": {"with": {"status": 400}}}},
    "wait": {"wait": "PT1S"},
}

# Where each kind keeps a property the schema requires (a path in the task).
REQUIRED: dict[str, tuple[str | int, ...]] = {
    "call-http": ("with", "method"),
    "call-openapi": ("with", "operationId"),
    "call-grpc": ("with", "service", "host"),
    "call-asyncapi": ("with", "document"),
    "call-a2a": ("with", "method"),
    "call-mcp": ("with", "transport"),
    "call-function": ("call",),
    "do": ("do",),
    "fork": ("fork", "branches"),
    "emit": ("emit", "event"),
    "for": ("for", "in"),
    "listen": ("listen", "to"),
    "raise": ("raise", "error"),
    "run-shell": ("run", "shell", "command"),
    "run-container": ("run", "container", "image"),
    "run-script": ("run", "script", "language"),
    "run-workflow": ("run", "workflow", "name"),
    "set": ("set",),
    "switch": ("switch", 0, "big", "then"),
    "try": ("catch",),
    "wait": ("wait",),
}

GREET = {"call": "http", "with": {"method": "post", "endpoint": "https://example.com/greet"}}


def workflow(*tasks: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A document running ``tasks`` in order; ``top`` adds top-level properties."""
    doc: dict[str, Any] = {
        "document": dict(DOCUMENT),
        "use": {"functions": {"greet": copy.deepcopy(GREET)}},
        "do": [{name: copy.deepcopy(body)} for name, body in tasks],
    }
    doc.update(copy.deepcopy(top))
    return doc


def with_task(body: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A document with the single task ``t``."""
    return workflow(("t", body), **top)


def edit(doc: dict[str, Any], path: tuple[str | int, ...], value: Any = ...) -> Any:
    """A copy of ``doc`` with ``path`` set to ``value``, or deleted when no value is given."""
    doc = copy.deepcopy(doc)
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc
