"""The telemetry options of ``podium serve``, ``podium worker`` and ``podium run``
(``--log-format``, ``--traces``, ``--metrics-port``) and their wiring: the log
handler on stderr, the tracer provider, the runtime's ``Telemetry``.

Telemetry libraries are imported here only when a command uses them (``podium
--version`` imports neither prometheus_client nor opentelemetry), and
OpenTelemetry only when traces are asked for."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podium.cli._output import printable, usage_error
from podium.telemetry.settings import EXPORTERS, LOG_FORMATS, exporter_choice

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from podium.runtime import Runtime
    from podium.telemetry import Telemetry

LogFormatOption = Annotated[
    str,
    typer.Option(
        "--log-format", envvar="PODIUM_LOG_FORMAT", metavar="text|json",
        help="Log lines on stderr as text, or as one JSON object per line carrying "
             "instance_id, workflow and task where they apply.",
    ),
]

TracesOption = Annotated[
    str | None,
    typer.Option(
        "--traces", metavar="console|otlp|none",
        show_default="OTEL_TRACES_EXPORTER, else otlp when OTEL_EXPORTER_OTLP_ENDPOINT is set, "
                     "else none",
        help="Export OpenTelemetry spans (one per instance run and per task): to stderr, or "
             "over OTLP/HTTP as the OTEL_EXPORTER_OTLP_* variables say (needs the otlp "
             "extra of the package).",
    ),
]

MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        "--metrics-port", metavar="PORT", show_default="not served",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (no authentication).",
    ),
]

MetricsHostOption = Annotated[
    str,
    typer.Option("--metrics-host", metavar="ADDRESS",
                 help="Address --metrics-port binds (0.0.0.0 for a scraper elsewhere)."),
]


def log_format(value: str) -> str:
    """``--log-format``, checked (a bad value exits 2)."""
    chosen = value.strip().lower()
    if chosen not in LOG_FORMATS:
        usage_error(f"--log-format {value!r}: use {' or '.join(LOG_FORMATS)}")
    return chosen


def tracer_provider(traces: str | None) -> TracerProvider | None:
    """The tracer provider ``--traces`` and the OTEL_* variables ask for, or None;
    an exporter that cannot be set up exits 2."""
    choice = exporter_choice(traces, os.environ)
    if choice is None:
        return None
    if choice not in EXPORTERS:
        usage_error(f"--traces {choice!r}: use {', '.join(EXPORTERS)}")
    from podium.telemetry.tracing import TracingUnavailable, provider_from_environment

    try:
        return provider_from_environment(traces)
    except TracingUnavailable as exc:
        usage_error(str(exc))


def metrics_socket(host: str, port: int | None) -> socket.socket | None:
    """The socket ``--metrics-port`` listens on, bound now so that a taken port
    exits 2 before anything runs."""
    if port is None:
        return None
    if not 0 <= port <= 65535:
        usage_error(f"--metrics-port {port}: a port is between 0 and 65535")
    from podium.telemetry.endpoint import bind

    try:
        return bind(host, port)
    except OSError as exc:
        usage_error(f"--metrics-port {port} on {host}: {exc.strerror or exc}")


def attach(runtime: Runtime, provider: TracerProvider | None) -> Telemetry:
    from podium.telemetry import Telemetry

    return Telemetry(tracer_provider=provider).attach(runtime)


@contextlib.contextmanager
def logging_to_stderr(chosen: str, traced: bool, also: tuple[str, ...] = ()) -> Iterator[None]:
    """Podium's log lines (INFO and above) on stderr, as text or JSON, while the
    command runs; in JSON, those of the loggers named ``also`` (uvicorn's) too."""
    handler = logging.StreamHandler(sys.stderr)
    if chosen == "json":
        from podium.telemetry.logs import JsonFormatter

        handler.setFormatter(JsonFormatter(trace_ids=traced))
    else:
        handler.setFormatter(UtcFormatter("%(asctime)s %(message)s"))
    names = ("podium", *also) if chosen == "json" else ("podium",)
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def shutdown(provider: TracerProvider | None) -> None:
    """Export the spans still queued (for a moment at most)."""
    if provider is not None:
        provider.force_flush(timeout_millis=5000)
        provider.shutdown()


class UtcFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z message``, the level named when worse than info.
    What a record carries from documents (a fault's title, say) is made printable:
    its message stays one line, a traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return printable(super().formatException(ei), lines=True)

    def formatStack(self, stack_info: str) -> str:
        return printable(super().formatStack(stack_info), lines=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno <= logging.INFO:
            return text
        stamp, _, rest = text.partition(" ")
        return f"{stamp} {record.levelname.lower()}: {rest}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"
