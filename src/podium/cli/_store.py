"""``podium store check``: whether the store can be used, without changing it."""

from __future__ import annotations

import asyncio

import typer

from podium.cli._arguments import StoreOption
from podium.cli._output import EXIT_INVALID, note
from podium.cli._session import scrub
from podium.store import StoreError, store_url
from podium.store._sqlstore import redact
from podium.store.check import Report, check

app = typer.Typer(name="store", help="Check the store.", no_args_is_help=True)


@app.command(name="check")
def check_store(store: StoreOption = None) -> None:
    """Check the store without changing it.

    SQLite: PRAGMA integrity_check over the whole file; PostgreSQL: connect. Then
    the tables, the migrations and a count of each table. Prints "ok" (exit 0),
    or one line per problem on stdout (exit 2).
    """
    url = store_url(store)
    try:
        report = asyncio.run(check(url))
    except StoreError as exc:
        typer.echo(scrub(str(exc), url))
        raise typer.Exit(EXIT_INVALID) from None
    note(_summary(report))
    if report.ok:
        typer.echo("ok")
        return
    for problem in report.problems:
        typer.echo(scrub(problem, url))
    raise typer.Exit(EXIT_INVALID)


def _summary(report: Report) -> str:
    """``URL: migrations 1, 2; 3 definitions, 10 instances, 40 journal entries, ...``"""
    if not report.counts:
        return redact(report.url)
    names = {"podium_journal": "journal entries"}
    counts = ", ".join(
        f"{rows} {names.get(table, table.removeprefix('podium_'))}"
        for table, rows in report.counts.items() if table != "podium_migrations"
    )
    pending = f" ({len(report.pending)} to apply)" if report.pending else ""
    applied = f"migrations {', '.join(map(str, report.applied)) or 'none'}{pending}"
    return f"{redact(report.url)}: {applied}; {counts}"
