"""``podium worker``: run and resume the store's instances until told to stop."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Annotated

import typer

from podium import Execution, Runtime
from podium.cli._arguments import StoreOption
from podium.cli._records import workflow_ref
from podium.cli._session import opened_runtime, run_async, scrub
from podium.cli._signals import stop_on_signals
from podium.runtime import LEASE_SECONDS, default_worker_id
from podium.store import InstanceRecord, store_url
from podium.worker import Worker

log = logging.getLogger("podium.cli.worker")


class _LoggingWorker(Worker):
    """A worker logging one line when it takes an instance and one when it lets go."""

    def __init__(self, runtime: Runtime, *, concurrency: int, stop: asyncio.Event) -> None:
        super().__init__(runtime, concurrency=concurrency)
        self.stop = stop

    async def _run(self, record: InstanceRecord) -> Execution:
        what = f"{record.id} {workflow_ref(record.namespace, record.name, record.version)}"
        log.info("%s %s", "resumed" if record.started_at else "started", what)
        began = time.perf_counter()
        try:
            execution = await super()._run(record)
        except asyncio.CancelledError:
            # Stopping: released for another worker; otherwise cancelled on request.
            log.info("%s %s", "released" if self.stop.is_set() else "cancelled", what)
            raise
        elapsed = f"in {(time.perf_counter() - began) * 1000:.0f} ms"
        if execution.error is not None:
            error = execution.error
            log.info("faulted %s %s: %s", what, elapsed, error.title or error.type)
        elif execution.wake_at is not None:
            log.info("%s %s until %s", execution.status, what, execution.wake_at.isoformat())
        else:
            log.info("%s %s %s", execution.status, what, elapsed)
        return execution


class _UtcFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z message``, the level named when worse than info."""

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


async def _work(url: str, concurrency: int, worker_id: str, lease: float) -> None:
    async with opened_runtime(url, worker_id=worker_id, lease_seconds=lease) as runtime:
        log.info("worker %s on %s (concurrency %d, lease %gs)",
                 worker_id, scrub(url, url), concurrency, lease)
        async with stop_on_signals(log.info) as stop:
            worker = _LoggingWorker(runtime, concurrency=concurrency, stop=stop)
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
) -> None:
    """Run instances until SIGTERM or SIGINT.

    Runs pending instances and resumes interrupted or due ones. On SIGTERM or
    SIGINT, stops taking work, releases what it holds (other workers resume it)
    and exits 0; a second signal exits at once. Logs one line per instance start
    and end on stderr.
    """
    url = store_url(store)
    logger = logging.getLogger("podium")
    level, handler = logger.level, _log_to_stderr()
    logger.setLevel(logging.INFO)
    try:
        run_async(_work(url, concurrency, worker_id or default_worker_id(), lease), url)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
