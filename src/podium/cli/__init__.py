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
One module per job: ``_run``, ``_validate``, ``_start``, ``_worker``,
``_instances``, ``_workflows`` (deploy, list), ``_serve`` (the HTTP API),
``_schedules`` (list), ``_store`` (check), ``_events`` (publish, list); shared
parsing in ``_arguments``, printing in ``_output`` and ``_tables`` (Rich; the JSON
shapes are ``podium.records``, shared with the HTTP API), the store session and its
error boundary in ``_session``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer

from podium import __version__
from podium.cli._help import PodiumGroup, adjust_tree
from podium.cli._output import EXIT_FAILED

# Every command, in the order `podium --help` lists them: the module that defines
# it and, for a single command, its function (else the module's Typer `app`).
# A command's module is imported only when that command runs (or for --help),
# so `podium --version` and `podium validate` do not load the runtime, the
# stores, the HTTP server or the protocol clients (issue 10: a 0.3 s start).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("podium.cli._run", "run"),
    "validate": ("podium.cli._validate", "validate_files"),
    "start": ("podium.cli._start", "start"),
    "worker": ("podium.cli._worker", "work"),
    "deploy": ("podium.cli._workflows", "deploy"),
    "serve": ("podium.cli._serve", "serve"),
    "instances": ("podium.cli._instances", "app"),
    "workflows": ("podium.cli._workflows", "app"),
    "schedules": ("podium.cli._schedules", "app"),
    "store": ("podium.cli._store", "app"),
    "events": ("podium.cli._events", "app"),
}


def _command(name: str) -> Any:
    """The click command Typer builds for ``name``, importing its module now."""
    module, attribute = COMMANDS[name]
    defined = getattr(importlib.import_module(module), attribute)
    if isinstance(defined, typer.Typer):
        command: Any = typer.main.get_group(defined)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name=name)(defined)
        command = typer.main.get_command(single)
    command.name = name
    adjust_tree(command)
    return command


class _LazyGroup(PodiumGroup):
    """The root group: its subcommands are built on first use (see COMMANDS)."""

    def list_commands(self, ctx: Any) -> list[str]:  # a click Context
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = _command(cmd_name)
        return self.commands.get(cmd_name)


app = typer.Typer(
    name="podium",
    help="Run and check CNCF Serverless Workflow (DSL 1.0.3) documents.",
    no_args_is_help=True,
    add_completion=False,
    # User errors are reported as messages; anything else is a bug whose plain
    # traceback is the most useful report.
    pretty_exceptions_enable=False,
    cls=_LazyGroup,  # help that reads like a command line's (see _help)
)


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
