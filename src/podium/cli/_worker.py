"""``podium worker``: run and resume the store's instances until told to stop."""

from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta
from typing import Annotated, Any

import typer

from podium.cli._arguments import (
    AllowFilesOption,
    AllowHostsOption,
    AllowRunOption,
    StoreOption,
    parse_duration,
    settings,
)
from podium.cli._output import printable
from podium.cli._session import opened_runtime, run_async, scrub
from podium.cli._signals import stop_on_signals
from podium.config import Settings
from podium.runtime import LEASE_SECONDS, default_worker_id
from podium.store import store_url
from podium.worker import Worker

log = logging.getLogger("podium.cli.worker")


class _UtcFormatter(logging.Formatter):
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


def _log_to_stderr() -> logging.Handler:
    """Podium's log lines (these, and the worker's warnings) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter("%(asctime)s %(message)s"))
    logging.getLogger("podium").addHandler(handler)
    return handler


async def _work(
    url: str, concurrency: int, worker_id: str, lease: float, retention: timedelta | None,
    options: Settings,
) -> None:
    async with opened_runtime(
        url, worker_id=worker_id, lease_seconds=lease, settings=options
    ) as runtime:
        log.info("worker %s on %s (concurrency %d, lease %gs)",
                 worker_id, scrub(url, url), concurrency, lease)
        async with stop_on_signals(log.info) as stop:
            worker = Worker(runtime, concurrency=concurrency, retention=retention)
            await worker.run(stop)  # once stopped, it releases what it holds
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
) -> None:
    """Run instances until SIGTERM or SIGINT.

    Runs pending instances and resumes interrupted or due ones. On SIGTERM or
    SIGINT, stops taking work, releases what it holds (other workers resume it)
    and exits 0; a second signal exits at once. Logs one line per instance start
    and end on stderr.
    """
    url = store_url(store)
    options = settings(allow_run, allow_hosts, allow_files)
    logger = logging.getLogger("podium")
    level, handler = logger.level, _log_to_stderr()
    logger.setLevel(logging.INFO)
    try:
        kept = None if retention == "never" else parse_duration(retention, "--retention")
        run_async(
            _work(url, concurrency, worker_id or default_worker_id(), lease, kept, options),
            url,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
