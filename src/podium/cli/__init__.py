"""The ``podium`` command: a thin shell over the Python API.

Contract other tools rely on (README "Command line"):

- ``podium run``: a completed workflow prints its output as one JSON document on
  stdout (exit 0); a faulted one prints a human line, then its error as compact
  RFC 7807 JSON on the last line of stderr (exit 1); an invalid document or
  ``--input`` prints ``file:line:col: /pointer: message`` lines on stderr (exit 2).
- ``podium validate``: problems on stdout, exit 0 when every file is valid, else 2.
- ``podium start`` prints an instance id; ``--json`` output keeps its keys.
- Exit codes: 1 the workflow or the operation failed (faulted, cancelled, not
  found, already ended, definition conflict); 2 usage (invalid document, input,
  flag; store unusable); 3 a recorded run left unfinished; 130 interrupted.

Everything for humans goes to stderr through Rich, so stdout stays parseable.
One module per job: ``_run`` (run, validate), ``_start``, ``_worker``,
``_instances``, ``_workflows`` (deploy, list), ``_serve`` (the HTTP API),
``_schedules`` (list), ``_store`` (check), ``_events`` (publish, list); shared
parsing in ``_arguments``, printing in ``_output`` and ``_tables`` (Rich; the JSON
shapes are ``podium.records``, shared with the HTTP API), the store session and its
error boundary in ``_session``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from podium import __version__
from podium.cli import (
    _events,
    _instances,
    _run,
    _schedules,
    _serve,
    _start,
    _store,
    _worker,
    _workflows,
)
from podium.cli._help import PodiumGroup
from podium.cli._output import EXIT_FAILED

app = typer.Typer(
    name="podium",
    help="Run and check CNCF Serverless Workflow (DSL 1.0.3) documents.",
    no_args_is_help=True,
    add_completion=False,
    # User errors are reported as messages; anything else is a bug whose plain
    # traceback is the most useful report.
    pretty_exceptions_enable=False,
    cls=PodiumGroup,  # help that reads like a command line's (see _help)
)
app.command(name="run")(_run.run)
app.command(name="validate")(_run.validate_files)
app.command(name="start")(_start.start)
app.command(name="worker")(_worker.work)
app.command(name="deploy")(_workflows.deploy)
app.command(name="serve")(_serve.serve)
app.add_typer(_instances.app, name="instances")
app.add_typer(_workflows.app, name="workflows")
app.add_typer(_schedules.app, name="schedules")
app.add_typer(_store.app, name="store")
app.add_typer(_events.app, name="events")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Run and check CNCF Serverless Workflow (DSL 1.0.3) documents."""


def main() -> None:
    """Entry point of the ``podium`` console script."""
    try:
        app(prog_name="podium")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`podium run ... | head`): not worth a traceback.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)


__all__ = ["app", "main"]
