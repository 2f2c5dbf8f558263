"""``podium deploy`` and ``podium workflows``: definitions kept in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium import Definition, InvalidWorkflowError, Problem, load
from podium.cli import _tables
from podium.cli._arguments import JsonOption, StoreOption
from podium.cli._output import EXIT_FAILED, error, invalid, table_console, write_json
from podium.cli._records import definition_json, workflow_ref
from podium.cli._session import opened_runtime, opened_store, run_async
from podium.store import DefinitionConflict, DefinitionRecord, store_url

app = typer.Typer(name="workflows", help="Deployed workflow definitions.", no_args_is_help=True)


async def _deploy(url: str, definitions: list[Definition]) -> bool:
    """Deploy each definition, printing one line for each; False if any conflicted."""
    deployed_all = True
    async with opened_runtime(url) as runtime:
        assert runtime.store is not None
        for definition in definitions:
            ref = workflow_ref(definition.namespace, definition.name, definition.version)
            known = await runtime.store.get_definition(
                definition.namespace, definition.name, definition.version
            )
            try:
                await runtime.deploy(definition)
            except DefinitionConflict:
                error(f"{ref} is already deployed with another document; "
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
) -> None:
    """Store definitions by namespace/name/version for `podium start NAME` and workers.

    Prints "namespace/name:version deployed" (or "unchanged") per file. An invalid
    file: its problems on stderr, nothing deployed, exit 2. Another document under
    a deployed version: exit 1.
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
    url = store_url(store)
    if not run_async(_deploy(url, definitions), url):
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
