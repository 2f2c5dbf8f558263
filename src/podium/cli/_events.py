"""``podium events``: publish CloudEvents into the store's inbox, and list them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from podium.cli._arguments import JsonOption, StoreOption, json_argument, parse_duration
from podium.cli._output import note, table_console, usage_error, write_json
from podium.cli._session import opened_store, run_async
from podium.cli._tables import cell, when
from podium.events.cloudevents import InvalidEvent, validate_all
from podium.events.ingest import IngestResult, ingest
from podium.records import event_json
from podium.store import store_url
from podium.store.base import EventRecord

app = typer.Typer(
    name="events",
    help="Publish CloudEvents into the store, and list what arrived.",
    no_args_is_help=True,
)

ORIGIN = "cli"


async def _publish(url: str, events: Sequence[dict[str, Any]]) -> IngestResult:
    async with opened_store(url) as store:
        return await ingest(store, events, ORIGIN)


@app.command()
def publish(
    event: Annotated[
        str,
        typer.Argument(
            metavar="EVENT|@FILE|-",
            help="A CloudEvent (JSON object) or a batch (JSON array of them): inline, "
                 "@path/to/events.json, or - for standard input.",
        ),
    ],
    store: StoreOption = None,
) -> None:
    """Store CloudEvents 1.0 in the inbox; no worker needs to run.

    Prints the id of each event stored, one per line. An event whose source and
    id are stored already is kept once and said so on stderr (exit 0). An event
    that is not a valid CloudEvent refuses the whole batch: nothing is stored,
    exit 2, and the message names the attribute (and the event, in a batch).
    """
    document = json_argument(event, "EVENT", stdin=True)
    batch = document if isinstance(document, list) else [document]
    try:
        events = validate_all(batch)
    except InvalidEvent as exc:
        usage_error(f"{exc}: nothing was stored" if len(batch) > 1 else str(exc))
    if not events:
        note("an empty batch: no event to publish")
        return
    url = store_url(store)
    result = run_async(_publish(url, events), url)
    for stored, record in zip(result.events, result.records, strict=True):
        if record is None:
            note(f"event {stored['source']} {stored['id']} is already stored "
                 "(same source and id): kept once")
        else:
            typer.echo(record.id)


_SHORTHAND = re.compile(r"^(\d+(?:\.\d+)?[wdhms])+$")


def parse_since(text: str) -> datetime:
    """``--since``: a duration back from now (``1h``, ``30m``, ``PT1H``, ``P1D``) or
    a time (ISO 8601: ``2026-01-02``, ``2026-01-02T03:04:05Z``; UTC when it names
    no offset)."""
    value = text.strip()
    if value.startswith("P") or _SHORTHAND.match(value):
        return datetime.now(UTC) - parse_duration(value, "--since")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        usage_error(f"--since {text!r} is neither a time (2026-01-02T03:04:05Z) nor a "
                    "duration (1h, 30m, PT1H)")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _list(url: str, type: str | None, since: datetime | None,
                limit: int) -> list[EventRecord]:
    async with opened_store(url) as store:
        return await store.list_events(type=type, since=since, limit=limit)


@app.command(name="list")
def list_events(
    type: Annotated[
        str | None, typer.Option("--type", "-t", metavar="TYPE", help="Only events of this type.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="TIME|DURATION",
                     help="Only events received since a time (ISO 8601: 2026-01-02, "
                          "2026-01-02T03:04:05Z; UTC unless it has an offset) or for a "
                          "duration back from now (1h, 30m, 2d, PT1H, P1D)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 100,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The newest events first: when each arrived, its type, source, id and
    subject, and the instances that consumed it."""
    after = None if since is None else parse_since(since)
    url = store_url(store)
    records = run_async(_list(url, type, after, limit), url)
    if as_json:
        write_json([event_json(record) for record in records])
    else:
        table_console().print(_table(records))


def _table(records: Sequence[EventRecord]) -> Table:
    # Nothing is ever cut: long types, sources and ids fold onto more lines, and
    # each consumer (an instance id) has a line of its own.
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("received", no_wrap=True)
    for name in ("type", "source", "id", "subject"):
        table.add_column(name, overflow="fold")
    table.add_column("consumers", no_wrap=True, overflow="ignore")
    for record in records:
        table.add_row(
            when(record.received_at),
            cell(record.type),
            cell(record.source),
            cell(record.id),
            cell(record.subject),
            Text("\n").join(cell(consumer) for consumer in record.consumers),
        )
    return table
