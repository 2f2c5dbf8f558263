"""OpenTelemetry spans: one per run of an instance, one per task execution, and
the W3C ``traceparent`` of the current task on every outgoing HTTP request.

A run's span (``workflow <namespace>/<name>``) is the child of the trace parent
stored with the instance (``podium.tracecontext``): every run of an instance,
a replay after a crash included, joins the trace of whoever started it; an
instance started without one begins a trace of its own. A task's span is named
by its reference (``/do/0/charge``) and is the child of the span of the task
around it, or of the run's. Tasks make their span the current one, so an HTTP
request a call sends (through the runtime's client, whose request hook this
module installs) carries it as ``traceparent``.

Nothing is set up unless asked: ``provider_from_environment`` gives a provider
only for ``--traces console|otlp`` or the standard ``OTEL_TRACES_EXPORTER`` /
``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` variables; without one the listener
creates no span at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from podium import tracecontext
from podium._version import __version__
from podium.telemetry.settings import EXPORTERS, exporter_choice

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = "traceparent"


class TracingUnavailable(Exception):
    """The exporter asked for cannot be set up (its package is not installed)."""


def provider_from_environment(
    flag: str | None = None, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """A tracer provider exporting where the operator said (see ``exporter_choice``),
    or None. The OTLP exporter reads the standard ``OTEL_EXPORTER_OTLP_*``
    variables itself; the console one writes to stderr (stdout is for results)."""
    environ = os.environ if environ is None else environ
    choice = exporter_choice(flag, environ)
    if choice is None:
        return None
    if choice == "console":
        exporter: Any = ConsoleSpanExporter(out=sys.stderr)
    elif choice == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise TracingUnavailable(
                "OTLP export needs the otlp extra: pip install 'podium[otlp]'"
            ) from None
        exporter = OTLPSpanExporter()
    else:
        raise TracingUnavailable(
            f"unknown traces exporter {choice!r}: use {', '.join(EXPORTERS)}"
        )
    provider = TracerProvider(resource=_resource(environ))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _resource(environ: Mapping[str, str]) -> Resource:
    attributes: dict[str, str] = {SERVICE_VERSION: __version__}
    # The operator's OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win (Resource.create
    # reads them, but lets the attributes given here override them).
    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", "")
    if not named:
        attributes[SERVICE_NAME] = "podium"
    return Resource.create(attributes)


def traceparent_of(span: Span) -> str | None:
    found = span.get_span_context()
    if not found.is_valid:
        return None
    return f"00-{found.trace_id:032x}-{found.span_id:016x}-{int(found.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The current span's ``traceparent`` (``tracecontext.install_source``)."""
    return traceparent_of(trace.get_current_span())


def parent_context(traceparent: str | None) -> Context:
    """The context a run's span starts in: its stored parent, else none (a root)."""
    if traceparent is None:
        return Context()
    return _PROPAGATOR.extract({_TRACEPARENT: traceparent}, context=Context())


class Tracing:
    """Starts and ends the spans; makes a task's span current while it runs."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("podium", __version__)

    def start_run(self, name: str, traceparent: str | None, attributes: dict[str, Any]) -> Span:
        span = self.tracer.start_span(name, context=parent_context(traceparent),
                                      kind=SpanKind.INTERNAL, attributes=attributes)
        otel_context.attach(trace.set_span_in_context(span, Context()))
        return span

    def start_task(self, name: str, call: bool, attributes: dict[str, Any]) -> tuple[Span, Context]:
        """The task's span, made current; returns it with the context to restore."""
        outer = otel_context.get_current()
        span = self.tracer.start_span(name, context=outer, attributes=attributes,
                                      kind=SpanKind.CLIENT if call else SpanKind.INTERNAL)
        otel_context.attach(trace.set_span_in_context(span, outer))
        return span, outer

    @staticmethod
    def end(span: Span, status: str, error: Mapping[str, Any] | None = None) -> None:
        span.set_attribute("podium.status", status)
        if error is not None:
            span.set_attribute("podium.error.type", str(error.get("type", "")))
            span.set_status(Status(StatusCode.ERROR,
                                   str(error.get("title") or error.get("type") or "faulted")))
        span.end()

    @staticmethod
    def restore(context: Context) -> None:
        otel_context.attach(context)

    @staticmethod
    def current() -> Context:
        return otel_context.get_current()

    def instrument(self, client: httpx.AsyncClient) -> None:
        """Outgoing requests of ``client`` carry the current span's ``traceparent``
        (unless the workflow set the header itself) and are recorded on that span:
        method and URL (without its query or credentials) as a span event, the
        response's status as an attribute."""
        hooks = client.event_hooks
        for event, hook in (("request", _on_request), ("response", _on_response)):
            if hook not in hooks.get(event, []):
                hooks[event] = [*hooks.get(event, []), hook]
        client.event_hooks = hooks
        tracecontext.install_source(current_traceparent)


async def _on_request(request: httpx.Request) -> None:
    span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return
    if _TRACEPARENT not in request.headers:
        _PROPAGATOR.inject(request.headers)
    url = request.url
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.port is not None else ""
    span.add_event("http.request", {
        "http.request.method": request.method,
        "url.full": f"{url.scheme}://{host}{port}{url.path}",
    })


async def _on_response(response: httpx.Response) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("http.response.status_code", response.status_code)
