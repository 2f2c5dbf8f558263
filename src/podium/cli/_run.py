"""``podium run`` and ``podium validate``.

``run`` keeps one contract whether it runs in memory (no store) or on a store
(``--store`` or ``PODIUM_STORE``), where the instance is recorded and every task
journaled, so that a run killed mid-way is finished by ``podium worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from podium import Definition, Execution, InvalidWorkflowError, Runtime
from podium.cli._arguments import (
    AllowFilesOption,
    AllowHostsOption,
    AllowRunOption,
    InputOption,
    LifecycleSinkOption,
    load_file,
    parse_input,
    settings,
)
from podium.cli._output import (
    EXIT_FAILED,
    EXIT_HANDED_OFF,
    EXIT_INTERRUPTED,
    invalid,
    json_text,
    printable,
    stderr,
    usage_error,
    write_json,
)
from podium.cli._progress import Progress
from podium.cli._session import opened_runtime, run_async
from podium.cli._signals import stop_on_signals
from podium.cli._telemetry import TracesOption, attach, shutdown, tracer_provider
from podium.cli._worker import StallLimitOption, stall_limit
from podium.config import Settings
from podium.engine.lifecycle import Listener
from podium.guards import STALL_LIMIT_SECONDS, stall_watchdog
from podium.store import DefinitionConflict, store_url

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

RunStoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", envvar="PODIUM_STORE", metavar="URL", show_default="in memory",
        help="Record the instance and journal every task in this store, so that "
             "`podium worker` can finish an interrupted run.",
    ),
]


@dataclass(frozen=True)
class _Interrupted:
    instance_id: str


async def _in_memory(
    definition: Definition, data: Any, listeners: list[Listener], options: Settings,
    provider: TracerProvider | None = None,
) -> Execution:
    async with Runtime(listeners=listeners, settings=options) as runtime:
        if provider is not None:
            attach(runtime, provider)
        return await runtime.execute(definition, data)


async def _recorded(
    url: str, definition: Definition, data: Any, listeners: list[Listener], options: Settings,
    stall: float | None, provider: TracerProvider | None = None,
) -> Execution | _Interrupted:
    async with (
        stall_watchdog(stall),
        opened_runtime(url, listeners=listeners, settings=options) as runtime,
    ):
        if provider is not None:
            attach(runtime, provider)
        try:
            handle = await runtime.start(definition, data)
        except InvalidWorkflowError as exc:  # a file resource that cannot be read
            invalid(exc.problems)
        except DefinitionConflict as exc:
            usage_error(f"{exc}; change document.version to run the edited document")
        async with stop_on_signals() as stop:
            result = asyncio.ensure_future(handle.result())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait((result, stopped), return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if result.done():
                return result.result()
            # Leave the instance (unowned, still running) for `podium worker`.
            handle.release()
            await result
            return _Interrupted(handle.id)


@contextlib.contextmanager
def _sink_warnings() -> Iterator[None]:
    """What the lifecycle sinks warn about (unreachable, events dropped), on stderr
    as ``warning: ...`` lines, before the outcome: the run goes on regardless."""
    logger = logging.getLogger("podium.events.sinks")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def run(
    workflow_file: Annotated[
        Path, typer.Argument(metavar="WORKFLOW_FILE", help="Workflow definition (YAML or JSON).")
    ],
    input_json: InputOption = None,
    store: RunStoreOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tasks as they start and finish (stderr).")
    ] = False,
    allow_run: AllowRunOption = None,
    allow_hosts: AllowHostsOption = None,
    allow_files: AllowFilesOption = None,
    lifecycle_sink: LifecycleSinkOption = None,
    stall: StallLimitOption = f"{STALL_LIMIT_SECONDS:g}",
    traces: TracesOption = None,
) -> None:
    """Run a workflow to its end.

    Completed: the output as one JSON document on stdout, exit 0.
    Faulted: the error as RFC 7807 JSON on the last line of stderr, exit 1.
    Invalid document or input: file:line:col: /pointer: message on stderr, exit 2.
    With a store, a run suspended from elsewhere exits 3 (a worker finishes it).
    """
    definition = load_file(workflow_file)
    data = parse_input(input_json)
    if definition.model.schedule is not None:
        stderr().print("note: this run starts the workflow once, now; its schedule is fired by "
                       "`podium worker` once the workflow is deployed (`podium deploy`)",
                       soft_wrap=True, highlight=False, markup=False)
    if store is None and _listens(definition.raw):
        stderr().print("note: this workflow listens for events; without --store it hears only "
                       "the events it emits itself (`podium events publish` writes to a store: "
                       "run it with --store, or deploy it and start it under `podium worker`)",
                       soft_wrap=True, highlight=False, markup=False)
    options = settings(allow_run, allow_hosts, allow_files, lifecycle_sinks=lifecycle_sink)
    listeners: list[Listener] = [Progress(stderr())] if verbose else []
    provider = tracer_provider(traces)
    with _sink_warnings():
        try:
            if store is None:
                try:
                    outcome: Execution | _Interrupted = asyncio.run(
                        _in_memory(definition, data, listeners, options, provider)
                    )
                except KeyboardInterrupt:
                    stderr().print(Text("interrupted", style="yellow"))
                    raise typer.Exit(EXIT_INTERRUPTED) from None
            else:
                url = store_url(store)
                outcome = run_async(_recorded(url, definition, data, listeners, options,
                                              stall_limit(stall), provider), url)
        finally:
            shutdown(provider)
    _report(outcome)


def _report(outcome: Execution | _Interrupted) -> None:
    console = stderr()
    if isinstance(outcome, _Interrupted):
        console.print(Text.assemble(
            ("interrupted", "yellow"),
            f": instance {outcome.instance_id} is left for `podium worker` to finish",
        ))
        raise typer.Exit(EXIT_INTERRUPTED)
    if outcome.status == "completed":
        write_json(outcome.output)
        return
    if outcome.error is not None:
        problem = outcome.error.to_dict()
        summary = problem.get("title") or problem["type"]
        detail = f": {problem['detail']}" if problem.get("detail") else ""
        console.print(Text.assemble(
            ("✗ faulted ", "bold red"),
            printable(f"at {problem.get('instance', '/')}: {summary}{detail}"),
        ))
        # Written raw, never through Rich: one compact line that tools parse.
        sys.stderr.write(json_text(problem, indent=None) + "\n")
        sys.stderr.flush()
        raise typer.Exit(EXIT_FAILED)
    if outcome.status == "cancelled":
        console.print(Text.assemble(("■ cancelled", "bold yellow"), f": instance {outcome.id}"))
        raise typer.Exit(EXIT_FAILED)
    # Parked out of this process (suspended from elsewhere, or a timer): not ended.
    until = f" until {outcome.wake_at.isoformat()}" if outcome.wake_at else ""
    console.print(Text.assemble(
        (outcome.status, "bold yellow"),
        f"{until}: instance {outcome.id} is not finished; `podium worker` continues it",
    ))
    raise typer.Exit(EXIT_HANDED_OFF)


def _listens(node: Any) -> bool:
    """Whether a document has a ``listen`` task anywhere."""
    if isinstance(node, dict):
        return any((key == "listen" and isinstance(value, dict) and "to" in value)
                   or _listens(value)
                   for key, value in node.items())
    if isinstance(node, list):
        return any(_listens(item) for item in node)
    return False
