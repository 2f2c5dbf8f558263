"""``podium start``: record a pending instance and print its id at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from podium import Definition, InvalidWorkflowError, WorkflowError
from podium.cli._arguments import (
    AllowFilesOption,
    InputOption,
    StoreOption,
    load_file,
    parse_input,
    settings,
    workflow_target,
)
from podium.cli._output import EXIT_FAILED, fail, invalid, note
from podium.cli._session import opened_runtime, run_async
from podium.config import Settings
from podium.registry import WorkflowName
from podium.store import DefinitionConflict, InstanceRecord, store_url


async def _start(
    url: str, target: Definition | WorkflowName, data: Any, key: str | None, options: Settings
) -> tuple[InstanceRecord, bool]:
    async with opened_runtime(url, settings=options) as runtime:
        if isinstance(target, WorkflowName):
            try:
                definition = await runtime.registry.get(
                    target.namespace, target.name, target.version
                )
            except WorkflowError as exc:
                fail(str(exc))
        else:
            definition = target
        try:
            return await runtime.create_instance(definition, data, key=key)
        except InvalidWorkflowError as exc:  # a file resource that cannot be read
            invalid(exc.problems)
        except DefinitionConflict as exc:
            fail(f"{exc}; change document.version to start the edited document", EXIT_FAILED)


def start(
    workflow: Annotated[
        str,
        typer.Argument(
            metavar="WORKFLOW_FILE_OR_NAME",
            help="A workflow file (deployed on the fly) or a deployed "
                 "namespace/name[:version] (default: the latest version).",
        ),
    ],
    input_json: InputOption = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", metavar="KEY",
            help="Idempotency key: starting again with the same key prints the "
                 "existing instance's id.",
        ),
    ] = None,
    store: StoreOption = None,
    allow_files: AllowFilesOption = None,
) -> None:
    """Record a new instance for a worker to run, and print its id.

    The instance is pending: `podium worker` (or any process running workers on
    the same store) picks it up. Exits at once.
    """
    data = parse_input(input_json)
    where = workflow_target(workflow)
    target = load_file(where) if isinstance(where, Path) else where
    options = settings(None, allow_files=allow_files)
    url = store_url(store)
    record, created = run_async(
        _start(url, target, {} if data is None else data, key, options), url
    )
    if not created:
        note(f"an instance with key {key!r} exists already ({record.status})")
    typer.echo(record.id)
