"""``podium schedules``: the schedules of deployed workflows, fired by workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from rich.table import Table

from podium.cli._arguments import JsonOption, StoreOption
from podium.cli._output import table_console, write_json
from podium.cli._session import opened_store, run_async
from podium.cli._tables import cell, when
from podium.records import iso, workflow_ref
from podium.store import store_url
from podium.store.base import ScheduleRecord

app = typer.Typer(name="schedules", help="Schedules of deployed workflows.",
                  no_args_is_help=True)


def expression(record: ScheduleRecord) -> str:
    """What the schedule says, as written: ``0 2 * * *``, ``PT1H``, or the JSON of
    an inline duration or an ``on`` strategy."""
    value = record.spec.get(record.kind)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def schedule_json(record: ScheduleRecord) -> dict[str, Any]:
    return {
        "namespace": record.namespace,
        "name": record.name,
        "version": record.version,
        "kind": record.kind,
        "expression": record.spec.get(record.kind),
        "nextDue": iso(record.next_due),
        "lastDue": iso(record.last_due),
        "lastInstance": record.last_instance,
        "updatedAt": iso(record.updated_at),
    }


def schedules_table(records: Sequence[ScheduleRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("workflow", "kind", "expression", "next", "last", "last instance"):
        table.add_column(column, no_wrap=column != "expression")
    for record in records:
        # `on` fires on events, `after` once its last instance ended: no time yet.
        waiting = {"on": "on events", "after": "after the last run ends"}.get(record.kind, "")
        table.add_row(
            cell(workflow_ref(record.namespace, record.name, record.version)),
            cell(record.kind),
            cell(expression(record)),
            cell(when(record.next_due) if record.next_due else waiting),
            cell(when(record.last_due)),
            cell(record.last_instance),
        )
    return table


async def _list(url: str) -> list[ScheduleRecord]:
    async with opened_store(url) as store:
        return await store.list_schedules()


@app.command(name="list")
def list_schedules(as_json: JsonOption = False, store: StoreOption = None) -> None:
    """Every deployed schedule: its workflow and version, what it says, when it
    fires next, and its last fire with the instance that fire started.

    Schedules are fired by `podium worker`; a workflow's schedule is the one of
    its highest deployed version."""
    url = store_url(store)
    records = run_async(_list(url), url)
    if as_json:
        write_json([schedule_json(record) for record in records])
    else:
        table_console().print(schedules_table(records))
