"""The graph of a workflow document: its tasks as nodes, how control passes
between them as edges (dsl.md "Task Flow").

Built from the document's plain JSON data (a ``DefinitionRecord.document``), so
anything that stored a definition can draw it. A task's node id is its JSON
pointer reference (``/do/0/charge``), the same reference its journal entries
carry; tasks nested in ``do``, ``for``, ``fork``, ``try``/``catch`` and
subscription iterators (``foreach``) have their composite task as ``parent``
(a ``try`` holds two scopes, ``<ref>/try`` and ``<ref>/catch``).

Edges, by ``kind``:

- ``enter``: a composite (or the start) to the first task of its list;
- ``next``: to the following task, or out of the list (to the list's owner, or
  to the end at the top level) when the task is the last;
- ``then``: a ``then`` naming a task of the same list;
- ``exit``: ``then: exit`` (out of the list, to its owner);
- ``end``: ``then: end`` (to the workflow's end);
- ``case``: a ``switch`` case (labelled by its name and ``when``), to where its
  ``then`` leads; ``no match`` when no case is a default;
- ``branch``: a ``fork`` to each branch;
- ``loop``: a ``for`` or ``foreach`` around its own tasks (from and to itself);
- ``catch``: a ``try`` scope to its ``catch`` scope;
- ``retry``: a ``try`` scope around itself, when ``catch.retry`` is set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from podium.dsl.model import TASK_KEYS

START, END = "start", "end"
SCOPE = "scope"  # the kind of a ``try`` task's two lists


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    kind: str  # a task kind (call, set, ...), ``start``, ``end`` or ``scope``
    parent: str | None = None
    summary: str = ""  # what the task does, in a few words (a method and URL, a duration)
    condition: str | None = None  # the task's `if`


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str
    label: str | None = None


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    # Indexes, filled once: a layout asks for children and edges of every node.
    _by_id: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)
    _children: dict[str | None, list[Node]] = field(default_factory=dict, repr=False,
                                                    compare=False)
    _from: dict[str, list[Edge]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for node in self.nodes:
            self._by_id[node.id] = node
            self._children.setdefault(node.parent, []).append(node)
        for edge in self.edges:
            self._from.setdefault(edge.source, []).append(edge)

    def node(self, node_id: str) -> Node | None:
        return self._by_id.get(node_id)

    def children(self, parent: str | None) -> list[Node]:
        """The nodes directly inside ``parent`` (None: the top level), in order."""
        return list(self._children.get(parent, ()))

    def edges_from(self, source: str) -> list[Edge]:
        return list(self._from.get(source, ()))

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [asdict(node) for node in self.nodes],
                "edges": [asdict(edge) for edge in self.edges]}


def task_kind(task: dict[str, Any]) -> str:
    """The kind of a task's definition, by its key (``for`` before ``do``)."""
    return next((key for key in TASK_KEYS if key in task), "task")


def build_graph(document: dict[str, Any]) -> Graph:
    """The graph of a workflow document (as loaded: a valid definition)."""
    builder = _Builder()
    builder.nodes.append(Node(START, "start", START))
    first = builder.scope(_task_list(document.get("do")), "/do", None)
    builder.edge(START, first or END, "enter")
    builder.nodes.append(Node(END, "end", END))
    return Graph(tuple(builder.nodes), tuple(builder.edges))


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _task_list(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """``[{name: task}, ...]`` as (name, task) pairs."""
    if not isinstance(value, list):
        return []
    items = []
    for item in value:
        if isinstance(item, dict) and len(item) == 1:
            name, task = next(iter(item.items()))
            if isinstance(task, dict):
                items.append((str(name), task))
    return items


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []

    def edge(self, source: str, target: str, kind: str, label: str | None = None) -> None:
        self.edges.append(Edge(source, target, kind, label))

    def scope(self, items: list[tuple[str, dict[str, Any]]], base: str,
              owner: str | None) -> str | None:
        """Add a task list at ``base`` owned by ``owner`` (None: the top level);
        the reference of its first task, if any."""
        references = [f"{base}/{index}/{name}" for index, (name, _) in enumerate(items)]
        by_name = {name: ref for (name, _), ref in zip(items, references, strict=True)}
        leave = owner if owner is not None else END
        for index, (name, task) in enumerate(items):
            reference = references[index]
            self.task(name, task, reference, owner)
            following = references[index + 1] if index + 1 < len(items) else leave

            def target(directive: Any, following: str = following) -> tuple[str, str]:
                """Where a flow directive leads, and the kind of edge it makes."""
                if directive in (None, "continue"):
                    return following, "next"
                if directive == "exit":
                    return leave, "exit"
                if directive == "end":
                    return END, "end"
                return by_name.get(str(directive), following), "then"

            kind = task_kind(task)
            if kind == "raise":
                continue  # a raise never passes control on
            if kind == "switch":
                self._cases(task, reference, target)
                continue
            destination, edge_kind = target(task.get("then"))
            self.edge(reference, destination, edge_kind,
                      None if edge_kind == "next" else str(task.get("then")))
        return references[0] if references else None

    def _cases(self, task: dict[str, Any], reference: str, target: Any) -> None:
        has_default = False
        for name, case in _task_list(task.get("switch")):
            when = case.get("when")
            has_default = has_default or when is None
            destination, _ = target(case.get("then"))
            if when is not None:
                label = f"{name}: {when}"
            else:
                label = name if name == "default" else f"{name} (default)"
            self.edge(reference, destination, "case", label)
        if not has_default:
            destination, _ = target(task.get("then"))
            self.edge(reference, destination, "case", "no match")

    def task(self, name: str, task: dict[str, Any], reference: str, parent: str | None) -> None:
        kind = task_kind(task)
        condition = task.get("if")
        self.nodes.append(Node(reference, name, kind, parent, summarize(kind, task),
                               condition if isinstance(condition, str) else None))
        if kind == "do":
            self._enter(reference, self.scope(_task_list(task.get("do")), f"{reference}/do",
                                              reference))
        elif kind == "for":
            self._enter(reference, self.scope(_task_list(task.get("do")), f"{reference}/do",
                                              reference))
            spec = task.get("for") or {}
            self.edge(reference, reference, "loop",
                      f"each {spec.get('each') or 'item'} in {spec.get('in')}")
        elif kind == "fork":
            spec = task.get("fork") or {}
            compete = "compete" if spec.get("compete") else None
            for index, (branch, body) in enumerate(_task_list(spec.get("branches"))):
                child = f"{reference}/fork/branches/{index}/{branch}"
                self.task(branch, body, child, reference)
                self.edge(reference, child, "branch", compete)
        elif kind == "try":
            self._try(task, reference)
        elif kind in ("listen", "call"):
            segment = "foreach" if kind == "listen" else "with/subscription/foreach"
            foreach = task.get("foreach") if kind == "listen" else _subscription_foreach(task)
            if isinstance(foreach, dict) and foreach.get("do"):
                first = self.scope(_task_list(foreach.get("do")), f"{reference}/{segment}/do",
                                   reference)
                self._enter(reference, first)
                self.edge(reference, reference, "loop", f"each {foreach.get('item') or 'item'}")

    def _enter(self, owner: str, first: str | None) -> None:
        if first is not None:
            self.edge(owner, first, "enter")

    def _try(self, task: dict[str, Any], reference: str) -> None:
        body = f"{reference}/try"
        catch = _object(task.get("catch"))
        retry = catch.get("retry")
        label = _retry_label(retry) if retry is not None else None
        self.nodes.append(Node(body, "try", SCOPE, reference, label or ""))
        self._enter(reference, body)
        self._enter(body, self.scope(_task_list(task.get("try")), body, body))
        if label is not None:
            self.edge(body, body, "retry", label)
        handler = f"{reference}/catch"
        self.nodes.append(Node(handler, "catch", SCOPE, reference, _catch_summary(catch)))
        self.edge(body, handler, "catch", "on error")
        self._enter(handler, self.scope(_task_list(catch.get("do")), f"{handler}/do", handler))


def _subscription_foreach(task: dict[str, Any]) -> Any:
    arguments = task.get("with")
    subscription = arguments.get("subscription") if isinstance(arguments, dict) else None
    return subscription.get("foreach") if isinstance(subscription, dict) else None


# summaries ---------------------------------------------------------------------------------


def summarize(kind: str, task: dict[str, Any]) -> str:
    """What a task does, in a few words, for a node's second line."""
    spec = task.get(kind)
    summary = _SUMMARIES.get(kind, _nothing)(spec, task)
    return " ".join(summary.split())


def _nothing(spec: Any, task: dict[str, Any]) -> str:
    return ""


def _call(spec: Any, task: dict[str, Any]) -> str:
    arguments = _object(task.get("with"))
    if spec == "http":
        endpoint = arguments.get("endpoint")
        if isinstance(endpoint, dict):
            endpoint = endpoint.get("uri")
        return f"http {str(arguments.get('method', '')).upper()} {endpoint or ''}"
    if spec == "openapi":
        return f"openapi {arguments.get('operationId', '')}"
    if spec == "grpc":
        service = _object(arguments.get("service"))
        return f"grpc {service.get('name', '')}.{arguments.get('method', '')}"
    if spec == "asyncapi":
        operation = arguments.get("operation") or arguments.get("channel") or ""
        return f"asyncapi {operation}"
    if spec == "a2a":
        return f"a2a {arguments.get('method', '')}"
    return f"function {spec}"


def _emit(spec: Any, task: dict[str, Any]) -> str:
    event = spec.get("event") if isinstance(spec, dict) else None
    attributes = event.get("with") if isinstance(event, dict) else None
    kind = attributes.get("type") if isinstance(attributes, dict) else None
    return f"event {kind}" if kind else "event"


def _for(spec: Any, task: dict[str, Any]) -> str:
    spec = spec if isinstance(spec, dict) else {}
    text = f"each {spec.get('each') or 'item'} in {spec.get('in')}"
    if task.get("while"):
        text += f" while {task['while']}"
    return text


def _fork(spec: Any, task: dict[str, Any]) -> str:
    spec = spec if isinstance(spec, dict) else {}
    count = len(_task_list(spec.get("branches")))
    return f"{count} branches{', compete' if spec.get('compete') else ''}"


def _listen(spec: Any, task: dict[str, Any]) -> str:
    to = spec.get("to") if isinstance(spec, dict) else None
    if not isinstance(to, dict):
        return ""
    for strategy in ("one", "any", "all"):
        if strategy in to:
            filters = to[strategy]
            filters = filters if isinstance(filters, list) else [filters]
            types = [f["with"].get("type") for f in filters
                     if isinstance(f, dict) and isinstance(f.get("with"), dict)]
            shown = ", ".join(str(t) for t in types if t) or "any event"
            return f"{strategy}: {shown}"
    return ""


def _raise(spec: Any, task: dict[str, Any]) -> str:
    error = spec.get("error") if isinstance(spec, dict) else None
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        return str(error.get("title") or error.get("type") or "")
    return ""


def _run(spec: Any, task: dict[str, Any]) -> str:
    if not isinstance(spec, dict):
        return ""
    for process, key in (("shell", "command"), ("script", "language"),
                         ("container", "image"), ("workflow", "name")):
        config = spec.get(process)
        if isinstance(config, dict):
            return f"{process} {config.get(key, '')}"
    return ""


def _set(spec: Any, task: dict[str, Any]) -> str:
    if isinstance(spec, dict):
        return ", ".join(str(key) for key in spec)
    return str(spec)


def _switch(spec: Any, task: dict[str, Any]) -> str:
    return f"{len(_task_list(spec))} cases"


def _wait(spec: Any, task: dict[str, Any]) -> str:
    if isinstance(spec, dict):
        units = {"days": "d", "hours": "h", "minutes": "min", "seconds": "s",
                 "milliseconds": "ms"}
        return " ".join(f"{value}{units.get(unit, unit)}" for unit, value in spec.items())
    return str(spec)


def _do(spec: Any, task: dict[str, Any]) -> str:
    return f"{len(_task_list(spec))} tasks"


_SUMMARIES = {
    "call": _call, "emit": _emit, "for": _for, "fork": _fork, "listen": _listen,
    "raise": _raise, "run": _run, "set": _set, "switch": _switch, "wait": _wait, "do": _do,
}


def _retry_label(retry: Any) -> str:
    if isinstance(retry, str):
        return f"retry ({retry})"
    if not isinstance(retry, dict):
        return "retry"
    limit = retry.get("limit")
    attempt = limit.get("attempt") if isinstance(limit, dict) else None
    count = attempt.get("count") if isinstance(attempt, dict) else None
    parts = [f"up to {count} times" if count is not None else ""]
    if isinstance(retry.get("delay"), dict | str):
        parts.append(f"after {_wait(retry['delay'], {})}")
    backoff = retry.get("backoff")
    if isinstance(backoff, dict) and backoff:
        parts.append(next(iter(backoff)))
    return " ".join(["retry", *[p for p in parts if p]])


def _catch_summary(catch: dict[str, Any]) -> str:
    errors = catch.get("errors")
    accepted = errors.get("with") if isinstance(errors, dict) else None
    caught = "any error"
    if isinstance(accepted, dict) and accepted:
        caught = " ".join(f"{key}={value}" for key, value in accepted.items())
    return caught if catch.get("do") else f"{caught}, then go on"
