"""``podium deploy`` and ``podium workflows``: definitions kept in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium import Definition, InvalidWorkflowError, Problem, load
from podium.cli import _tables
from podium.cli._arguments import AllowFilesOption, JsonOption, StoreOption, settings
from podium.cli._output import EXIT_FAILED, error, invalid, table_console, write_json
from podium.cli._session import opened_runtime, opened_store, run_async
from podium.config import Settings
from podium.deployment import with_file_resources
from podium.records import definition_json, workflow_ref
from podium.store import DefinitionConflict, DefinitionRecord, store_url

app = typer.Typer(name="workflows", help="Deployed workflow definitions.", no_args_is_help=True)


async def _deploy(url: str, definitions: list[Definition], options: Settings) -> bool:
    """Deploy each definition, printing one line for each; False if any conflicted."""
    # Every file resource of every definition is read before anything is
    # deployed: one that cannot be read is a problem of its document (exit 2).
    problems: list[Problem] = []
    ready: list[Definition] = []
    for definition in definitions:
        try:
            ready.append(await with_file_resources(definition, options))
        except InvalidWorkflowError as exc:
            problems.extend(exc.problems)
    if problems:
        invalid(problems)
    deployed_all = True
    async with opened_runtime(url, settings=options) as runtime:
        assert runtime.store is not None
        for definition in ready:
            ref = workflow_ref(definition.namespace, definition.name, definition.version)
            known = await runtime.store.get_definition(
                definition.namespace, definition.name, definition.version
            )
            try:
                await runtime.deploy(definition)
            except DefinitionConflict as exc:
                what = str(exc).partition(" with ")[2] or "another document"
                error(f"{ref} is already deployed with {what}; "
                      "deploy it under a new document.version")
                deployed_all = False
                continue
            typer.echo(f"{ref} {'unchanged' if known is not None else 'deployed'}")
    return deployed_all


def deploy(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="Workflow definitions to deploy.")
    ],
    store: StoreOption = None,
    allow_files: AllowFilesOption = None,
) -> None:
    """Store definitions by namespace/name/version for `podium start NAME` and workers.

    The file resources each one names (file://...) are stored with it. Prints
    "namespace/name:version deployed" (or "unchanged") per file. An invalid file,
    or a resource that cannot be read: its problems on stderr, nothing deployed,
    exit 2. Another document under a deployed version: exit 1.
    """
    definitions: list[Definition] = []
    problems: list[Problem] = []
    for path in files:
        try:
            definitions.append(load(path))
        except InvalidWorkflowError as exc:
            problems.extend(exc.problems)
    if problems:
        invalid(problems)
    options = settings(None, allow_files=allow_files)
    url = store_url(store)
    if not run_async(_deploy(url, definitions, options), url):
        raise typer.Exit(EXIT_FAILED)


async def _list(url: str) -> list[DefinitionRecord]:
    async with opened_store(url) as store:
        return await store.list_definitions()


@app.command(name="list")
def list_workflows(as_json: JsonOption = False, store: StoreOption = None) -> None:
    """Deployed definitions, by namespace, name and version."""
    url = store_url(store)
    records = run_async(_list(url), url)
    if as_json:
        write_json([definition_json(record) for record in records])
    else:
        table_console().print(_tables.definitions(records))
