"""``podium worker``: run and resume the store's instances until told to stop."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from podium.cli._arguments import (
    AllowFilesOption,
    AllowHostsOption,
    AllowRunOption,
    EventsOption,
    LifecycleSinkOption,
    StoreOption,
    parse_duration,
    settings,
)
from podium.cli._output import usage_error
from podium.cli._session import opened_runtime, run_async, scrub
from podium.cli._signals import stop_on_signals
from podium.cli._telemetry import (
    LogFormatOption,
    MetricsHostOption,
    MetricsPortOption,
    TracesOption,
    attach,
    log_format,
    logging_to_stderr,
    metrics_socket,
    shutdown,
    tracer_provider,
)
from podium.config import Settings
from podium.events.bus import TransportError
from podium.events.nats import NatsTransport
from podium.guards import (
    STALL_LIMIT_SECONDS,
    cap_memory,
    parse_size,
    parse_stall_limit,
    stall_watchdog,
)
from podium.limits import MAX_CRASHES
from podium.runtime import LEASE_SECONDS, Runtime, default_worker_id
from podium.store import StoreError, store_url
from podium.store.check import quick_check
from podium.worker import Worker

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

StallLimitOption = Annotated[
    str,
    typer.Option(
        "--stall-limit", envvar="PODIUM_STALL_LIMIT", metavar="SECONDS",
        help="Exit (tracebacks on stderr, status 1) when the event loop is blocked this "
             "long, so that other workers take over; 'never' disables it.",
    ),
]


def stall_limit(text: str) -> float | None:
    """``--stall-limit``/``PODIUM_STALL_LIMIT`` in seconds (None: never); a bad value exits 2."""
    try:
        return parse_stall_limit(text)
    except ValueError as exc:
        usage_error(f"--stall-limit {text!r}: {exc}")

log = logging.getLogger("podium.cli.worker")


@contextlib.asynccontextmanager
async def event_bus(url: str | None, runtime: Runtime) -> AsyncIterator[NatsTransport | None]:
    """The NATS JetStream transport of ``--events`` while the worker runs (None
    without ``--events``): it consumes into the runtime's store (waking its
    dispatcher) and carries the events instances emit; a server that does not
    answer when the worker starts exits 2."""
    if url is None or runtime.store is None:
        yield None
        return
    try:
        async with NatsTransport(url) as transport:
            await transport.start(runtime.store, runtime.dispatcher.notify)
            log.info("events from NATS %s (%s, stream %s)", scrub(url, url), transport.subject,
                     transport.stream)
            runtime.event_transports.append(transport)
            try:
                yield transport
            finally:
                runtime.event_transports.remove(transport)
    except TransportError as exc:
        usage_error(str(exc))


@contextlib.asynccontextmanager
async def observed(runtime: Runtime, provider: TracerProvider | None,
                   sock: socket.socket | None, log_json: bool) -> AsyncIterator[None]:
    """The runtime's telemetry, only when something uses it (it costs CPU per task:
    docs/operations.md): metrics served on ``sock`` (``--metrics-port``), spans
    with a provider, task lines with JSON logs."""
    if sock is None and provider is None and not log_json:
        yield
        return
    telemetry = attach(runtime, provider)
    if sock is None:
        yield
        return
    from podium.telemetry.endpoint import serving

    host, port = sock.getsockname()[:2]
    async with serving(telemetry, sock):
        log.info("metrics at http://%s:%d/metrics", f"[{host}]" if ":" in host else host, port)
        yield


async def _work(
    url: str, concurrency: int, worker_id: str, lease: float, retention: timedelta | None,
    options: Settings, stall: float | None, max_crashes: int,
    provider: TracerProvider | None = None, sock: socket.socket | None = None,
    log_json: bool = False,
) -> None:
    problems = await quick_check(url)
    if problems:
        raise StoreError(f"the store is corrupt: {problems[0]} (`podium store check` says more)")
    async with opened_runtime(
        url, worker_id=worker_id, lease_seconds=lease, settings=options
    ) as runtime:
        log.info("worker %s on %s (concurrency %d, lease %gs)",
                 worker_id, scrub(url, url), concurrency, lease)
        worker = Worker(runtime, concurrency=concurrency, retention=retention,
                        max_crashes=max_crashes)
        async with (observed(runtime, provider, sock, log_json),
                    event_bus(options.events, runtime), stall_watchdog(stall),
                    stop_on_signals(log.info) as stop):
            await worker.run(stop)  # once stopped, it releases what it holds
        if worker.abandoned:
            # Stuck tasks would hold up the store's close and asyncio's own
            # clean-up for as long as they are stuck: their leases expire instead.
            log.info("worker %s stopped", worker_id)
            logging.shutdown()
            os._exit(0)
    log.info("worker %s stopped", worker_id)


def work(
    store: StoreOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Instances run at once.")
    ] = 32,
    worker_id: Annotated[
        str | None,
        typer.Option("--worker-id", metavar="ID", show_default="host:pid",
                     help="Name of this worker in leases."),
    ] = None,
    lease: Annotated[
        float,
        typer.Option("--lease", metavar="SECONDS", min=1.0,
                     help="Lease length: how soon another worker takes over the "
                          "instances of one that died."),
    ] = LEASE_SECONDS,
    retention: Annotated[
        str,
        typer.Option("--retention", metavar="DURATION",
                     help="Delete ended instances and their journals after this long "
                          "(P30D, 12h, ...; 'never' keeps them)."),
    ] = "P30D",
    allow_run: AllowRunOption = None,
    allow_hosts: AllowHostsOption = None,
    allow_files: AllowFilesOption = None,
    events: EventsOption = None,
    lifecycle_sink: LifecycleSinkOption = None,
    stall: StallLimitOption = f"{STALL_LIMIT_SECONDS:g}",
    max_memory: Annotated[
        str | None,
        typer.Option(
            "--max-memory", envvar="PODIUM_MAX_MEMORY", metavar="SIZE", show_default="no cap",
            help="Cap the worker's address space (512M, 2G): an instance that needs more "
                 "faults, or stops the worker and counts a crash.",
        ),
    ] = None,
    max_crashes: Annotated[
        int,
        typer.Option(
            "--max-crashes", envvar="PODIUM_MAX_CRASHES", metavar="N", min=1,
            help="Quarantine an instance that stopped its worker this many times "
                 "without making progress.",
        ),
    ] = MAX_CRASHES,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
    log_as: LogFormatOption = "text",
    traces: TracesOption = None,
) -> None:
    """Run instances until SIGTERM or SIGINT.

    Runs pending instances and resumes interrupted or due ones. On SIGTERM or
    SIGINT, stops taking work, releases what it holds (other workers resume it)
    and exits 0 within seconds; a second signal exits at once. Logs one line per
    instance start and end on stderr (--log-format json: one JSON object per line).
    A store it cannot use: exit 2.
    """
    url = store_url(store)
    options = settings(allow_run, allow_hosts, allow_files, events, lifecycle_sink)
    stall_seconds = stall_limit(stall)
    kept = None if retention == "never" else parse_duration(retention, "--retention")
    if max_memory is not None:
        try:
            cap_memory(parse_size(max_memory))
        except ValueError as exc:
            usage_error(f"--max-memory {max_memory!r}: {exc}")
    chosen = log_format(log_as)
    provider = tracer_provider(traces)
    sock = metrics_socket(metrics_host, metrics_port)
    try:
        with logging_to_stderr(chosen, traced=provider is not None, also=("uvicorn",)):
            run_async(
                _work(url, concurrency, worker_id or default_worker_id(), lease, kept, options,
                      stall_seconds, max_crashes, provider, sock, chosen == "json"),
                url,
            )
    finally:
        shutdown(provider)
        if sock is not None:
            sock.close()
