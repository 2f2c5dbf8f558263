"""``podium serve``: the HTTP API (``podium.server``) and, unless told not to,
a worker, in one process on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from podium.cli._arguments import StoreOption
from podium.cli._output import usage_error
from podium.cli._session import opened_runtime, run_async, scrub
from podium.cli._signals import stop_on_signals
from podium.cli._telemetry import (
    LogFormatOption,
    TracesOption,
    attach,
    log_format,
    logging_to_stderr,
    shutdown,
    tracer_provider,
)
from podium.guards import parse_size
from podium.runtime import default_worker_id
from podium.store import StoreError, store_url
from podium.store.check import quick_check

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from podium.server import ServerSettings

log = logging.getLogger("podium.cli.serve")


async def _serve(url: str, host: str, port: int, options: ServerSettings, worker: bool,
                 provider: TracerProvider | None = None, log_json: bool = False) -> None:
    # Imported here: `podium --version` and the other commands need no web stack.
    import uvicorn

    from podium.server import create_app, stop_streams
    from podium.worker import Worker

    class _Server(uvicorn.Server):
        """uvicorn without its own signal handlers: this command's stop both it
        and the worker, and uvicorn's would re-raise the signal at the end."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    problems = await quick_check(url)
    if problems:
        raise StoreError(f"the store is corrupt: {problems[0]} (`podium store check` says more)")
    worker_id = default_worker_id()
    async with opened_runtime(url, worker_id=worker_id) as runtime:
        attach(runtime, provider)  # before the app, which serves its /metrics
        app = create_app(runtime, options)
        # JSON logs: uvicorn's lines go through podium's handler (logging_to_stderr).
        config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_level="info",
                                access_log=False,
                                log_config=None if log_json else uvicorn.config.LOGGING_CONFIG)
        server = _Server(config)
        log.info("serving http://%s:%d/api/v1 over %s%s", host, port, scrub(url, url),
                 f" with worker {worker_id}" if worker else " (no worker)")
        running = Worker(runtime) if worker else None
        async with stop_on_signals(log.info) as stop:
            served = asyncio.create_task(server.serve())
            served.add_done_callback(lambda _: stop.set())
            working = asyncio.create_task(running.run(stop)) if running else None
            await stop.wait()
            stop_streams(app)  # open event streams end, so the server's wait for them does
            server.should_exit = True
            await served
            if working is not None:
                await working
        if running is not None and running.abandoned:
            log.info("stopped")
            logging.shutdown()
            os._exit(0)
    log.info("stopped")


def serve(
    store: StoreOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8080,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; workers run elsewhere.")
    ] = False,
    tokens: Annotated[
        Path | None,
        typer.Option("--tokens", metavar="FILE",
                     help="Bearer tokens, one token:role per line (roles: viewer, operator); "
                          "added to PODIUM_API_TOKENS."),
    ] = None,
    max_body: Annotated[
        str, typer.Option("--max-body", metavar="SIZE", help="Largest request body (413 above).")
    ] = "10M",
    log_as: LogFormatOption = "text",
    traces: TracesOption = None,
) -> None:
    """Serve the REST API (/api/v1) with an embedded worker until SIGTERM or SIGINT.

    Without any token (PODIUM_API_TOKENS, --tokens) the API is open to anyone who
    can connect, so it binds only a loopback address; another --host exits 2.
    Prometheus metrics are at /metrics (a viewer token reads them).
    """
    from podium.server import ServerSettings
    from podium.server.security import is_loopback, load_tokens

    try:
        known = load_tokens(os.environ, tokens)
    except ValueError as exc:
        usage_error(str(exc))
    if not known and not is_loopback(host):
        usage_error(f"--host {host} is not a loopback address and no API token is configured: "
                    "anyone who can connect could run workflows. Set PODIUM_API_TOKENS or "
                    "--tokens FILE (token:role lines), or bind 127.0.0.1")
    try:
        limit = parse_size(max_body)
    except ValueError as exc:
        usage_error(f"--max-body {max_body!r}: {exc}")
    url = store_url(store)
    options = ServerSettings(store_url=url, tokens=known, max_body=limit)
    chosen = log_format(log_as)
    provider = tracer_provider(traces)
    try:
        with logging_to_stderr(chosen, traced=provider is not None, also=("uvicorn",)):
            run_async(_serve(url, host, port, options, not no_worker, provider,
                             chosen == "json"), url)
    finally:
        shutdown(provider)
