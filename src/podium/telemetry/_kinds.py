"""A task's kind (the ``task_kind`` label and span attribute) and, for a call,
its protocol (the ``kind`` of ``podium_call_duration_seconds``), from the typed
model the engine runs: no look-up in the document per event."""

from __future__ import annotations

from podium.dsl import model as m

# A custom or catalog function (``call: myFunction``) counts as ``function``.
_KINDS: dict[type, tuple[str, str | None]] = {
    m.CallHTTP: ("call", "http"),
    m.CallOpenAPI: ("call", "openapi"),
    m.CallGRPC: ("call", "grpc"),
    m.CallAsyncAPI: ("call", "asyncapi"),
    m.CallA2A: ("call", "a2a"),
    m.CallMCP: ("call", "mcp"),
    m.CallFunction: ("call", "function"),
    m.DoTask: ("do", None),
    m.ForkTask: ("fork", None),
    m.EmitTask: ("emit", None),
    m.ForTask: ("for", None),
    m.ListenTask: ("listen", None),
    m.RaiseTask: ("raise", None),
    m.RunTask: ("run", None),
    m.SetTask: ("set", None),
    m.SwitchTask: ("switch", None),
    m.TryTask: ("try", None),
    m.WaitTask: ("wait", None),
}

UNKNOWN = ("unknown", None)


def kind_of(task: object) -> tuple[str, str | None]:
    """``(kind, protocol)``: ``("call", "http")``, ``("set", None)``."""
    return _KINDS.get(type(task), UNKNOWN)
