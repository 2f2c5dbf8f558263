"""The W3C trace context an instance continues (https://www.w3.org/TR/trace-context/).

Whoever starts an instance may be part of a distributed trace: an API request
with a ``traceparent`` header, a CloudEvent with the ``traceparent`` extension
attribute (the CloudEvents distributed tracing extension), or a task of another
instance (a subflow). The runtime stores that ``traceparent`` with the instance
it creates (``InstanceRecord.trace_parent``), so that every run of the instance,
in whichever process and after whichever crash, is a child of the same parent.

Nothing here knows a tracing library: ``incoming`` is set by the surfaces (the
HTTP API's middleware, the event dispatcher) for the code they call, and
``podium.telemetry`` installs a ``source`` of the current span's context when
it traces. Without tracing this costs a context variable read per instance
created.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["current", "incoming", "install_source", "valid"]

# version 00 as written by every producer today; a later version is read by its
# first four fields, as the recommendation asks (version ff is invalid).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16

_incoming: ContextVar[str | None] = ContextVar("podium_incoming_traceparent", default=None)
_source: Callable[[], str | None] | None = None


def valid(value: object) -> str | None:
    """``value`` as a ``traceparent`` to continue, or None when it is not one
    (wrong shape, version ff, an all-zero trace or parent id, a version 00
    with extra fields)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    if version == "00" and rest:
        return None
    return f"00-{trace_id}-{parent_id}-{flags}"


@contextlib.contextmanager
def incoming(traceparent: object) -> Iterator[None]:
    """Instances created inside this block continue ``traceparent`` (a request's
    header, an event's attribute); an invalid one is ignored (a new trace)."""
    token = _incoming.set(valid(traceparent))
    try:
        yield
    finally:
        _incoming.reset(token)


def install_source(source: Callable[[], str | None]) -> None:
    """Where the current span's ``traceparent`` comes from (``podium.telemetry``,
    once it traces): it wins over ``incoming`` (a task starting a subflow)."""
    global _source
    _source = source


def current() -> str | None:
    """The ``traceparent`` an instance created now continues, or None."""
    if _source is not None:
        found = _source()
        if found is not None:
            return found
    return _incoming.get()
