"""``podium instances``: list, inspect, control and purge recorded instances."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Literal, NoReturn

import typer

from podium import recovery
from podium.cli import _tables
from podium.cli._arguments import JsonOption, StoreOption, parse_duration
from podium.cli._output import fail, note, table_console, write_json
from podium.cli._session import opened_store, run_async
from podium.engine.secret_refs import displayed
from podium.records import entry_json, instance_json, waiting_for_json
from podium.store import (
    CANCEL,
    CANCELLED,
    ENDED,
    RESUME,
    SUSPEND,
    SUSPENDED,
    InstanceQuery,
    InstanceRecord,
    JournalEntry,
    Store,
    SubscriptionRecord,
    store_url,
)

app = typer.Typer(
    name="instances",
    help="List, inspect, control and purge workflow instances.",
    no_args_is_help=True,
)

# The store's status phases (ACTIVE + ENDED; a test keeps them equal), spelt out for --help.
Status = Literal["pending", "running", "waiting", "suspended", "completed", "faulted", "cancelled"]

InstanceId = Annotated[str, typer.Argument(metavar="ID", help="The instance id.")]


async def _found(store: Store, instance_id: str) -> InstanceRecord:
    record = await store.get_instance(instance_id)
    if record is None:
        fail(f"no instance {instance_id!r} in this store")
    return record


# reading ----------------------------------------------------------------------------------


def _shown(record: InstanceRecord) -> InstanceRecord:
    # An input is stored like journaled data: secret references show as ***.
    record.input = displayed(record.input)
    return record


async def _list(url: str, status: str | None, limit: int) -> list[InstanceRecord]:
    async with opened_store(url) as store:
        listed = await store.list_instances(InstanceQuery(status=status, limit=limit))
        return [_shown(record) for record in listed]


@app.command(name="list")
def list_instances(
    status: Annotated[
        Status | None, typer.Option("--status", "-s", help="Only instances in this status.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 100,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """The newest instances first."""
    url = store_url(store)
    records = run_async(_list(url, status, limit), url)
    if as_json:
        write_json([instance_json(record) for record in records])
    else:
        table_console().print(_tables.instances(records))


async def _get(url: str, instance_id: str) -> tuple[InstanceRecord, list[SubscriptionRecord]]:
    async with opened_store(url) as store:
        record = _shown(await _found(store, instance_id))
        listening = await store.get_subscriptions(instance_id) if record.status not in ENDED \
            else []
        return record, listening


@app.command()
def get(instance_id: InstanceId, as_json: JsonOption = False, store: StoreOption = None) -> None:
    """One instance: status, input, output or error, times. Unknown id: exit 1."""
    url = store_url(store)
    record, listening = run_async(_get(url, instance_id), url)
    if as_json:
        shown = instance_json(record)
        if listening:
            shown["waitingFor"] = waiting_for_json(listening)
        write_json(shown)
    else:
        table_console().print(_tables.instance(record, listening))


async def _history(url: str, instance_id: str) -> list[JournalEntry]:
    async with opened_store(url) as store:
        await _found(store, instance_id)
        entries = await store.read_journal(instance_id)
    # Secret references show as ***: a history view never resolves them.
    return [replace(entry, data=displayed(entry.data)) for entry in entries]


@app.command()
def history(
    instance_id: InstanceId, as_json: JsonOption = False, store: StoreOption = None
) -> None:
    """The instance's journal as a timeline (seq, time, position, kind, summary)."""
    url = store_url(store)
    entries = run_async(_history(url, instance_id), url)
    if as_json:
        write_json([entry_json(entry) for entry in entries])
    else:
        table_console().print(_tables.journal(entries))


# control ----------------------------------------------------------------------------------


def _operator() -> str:
    """Who asks, for the instance's history: ``cli:user@host:pid``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid())
    return f"cli:{user}@{socket.gethostname()}:{os.getpid()}"


def _nothing_to_do(record: InstanceRecord, command: str) -> bool:
    if command == SUSPEND:
        return record.status == SUSPENDED
    if command == RESUME:  # not suspended, and no suspension pending either
        return record.status != SUSPENDED and record.request != SUSPEND
    return False


async def _control(url: str, instance_id: str, command: str) -> InstanceRecord:
    async with opened_store(url) as store:
        record = await _found(store, instance_id)
        if record.status in ENDED:
            _ended(record, command)
        if _nothing_to_do(record, command):
            note(f"instance {instance_id} is {record.status}: nothing to {command}")
            return record
        record = await store.request(instance_id, command, by=_operator()) or record
        # It may have ended between the two reads; then only a cancel did anything.
        if record.status in ENDED and not (command == CANCEL and record.status == CANCELLED):
            _ended(record, command)
        if record.request == command:
            note(f"{command} requested: {record.owner}, which runs it, acts on it within seconds")
        return record


def _ended(record: InstanceRecord, command: str) -> NoReturn:
    fail(f"instance {record.id} has ended ({record.status}): nothing to {command}")


def _controlled(instance_id: str, command: str, store: str | None) -> None:
    url = store_url(store)
    typer.echo(run_async(_control(url, instance_id, command), url).status)


@app.command()
def cancel(instance_id: InstanceId, store: StoreOption = None) -> None:
    """Cancel an instance: at once, or by the worker running it. Prints the status."""
    _controlled(instance_id, CANCEL, store)


@app.command()
def suspend(instance_id: InstanceId, store: StoreOption = None) -> None:
    """Suspend an instance until `resume`. Prints the status."""
    _controlled(instance_id, SUSPEND, store)


@app.command()
def resume(instance_id: InstanceId, store: StoreOption = None) -> None:
    """Resume a suspended instance (a worker picks it up). Prints the status."""
    _controlled(instance_id, RESUME, store)


async def _retry(url: str, instance_id: str) -> InstanceRecord:
    async with opened_store(url) as store:
        await _found(store, instance_id)
        try:
            return await recovery.retry(store, instance_id, _operator())
        except recovery.Refused as exc:
            fail(str(exc))


@app.command()
def retry(instance_id: InstanceId, store: StoreOption = None) -> None:
    """Run a faulted instance again from the task that faulted (what completed is
    replayed from its journal, not run again). Prints the status."""
    url = store_url(store)
    typer.echo(run_async(_retry(url, instance_id), url).status)


async def _rerun(url: str, instance_id: str, start: str) -> InstanceRecord:
    async with opened_store(url) as store:
        await _found(store, instance_id)
        try:
            record, _ = await recovery.rerun(store, instance_id, start, _operator())
        except recovery.Refused as exc:
            fail(str(exc))
        return record


@app.command()
def rerun(
    instance_id: InstanceId,
    start: Annotated[
        str, typer.Option("--from", metavar="TASK",
                          help="The task to execute from: a reference such as /do/2/charge, "
                               "or a position that `instances history` shows."),
    ],
    store: StoreOption = None,
) -> None:
    """Start a new instance that replays this one's history up to TASK and executes
    from there (a worker runs it). Prints the new instance's id."""
    url = store_url(store)
    typer.echo(run_async(_rerun(url, instance_id, start), url).id)


# purging ----------------------------------------------------------------------------------


async def _purge(url: str, before: datetime) -> int:
    async with opened_store(url) as store:
        return await store.purge(before)


@app.command()
def purge(
    older_than: Annotated[
        str,
        typer.Option("--older-than", metavar="DURATION",
                     help="ISO 8601 (P30D, PT1H) or 30d, 12h, 15m, 10s."),
    ],
    store: StoreOption = None,
) -> None:
    """Delete ended instances (and their journals) that ended longer ago than DURATION."""
    age = parse_duration(older_than, "--older-than")
    url = store_url(store)
    count = run_async(_purge(url, datetime.now(UTC) - age), url)
    typer.echo(f"purged {count} instance{'' if count == 1 else 's'}")
