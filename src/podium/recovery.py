"""Getting a faulted run going again: an operator's two ways, for every surface
(the API, the dashboard, the CLI).

- **Retry** the instance: the same instance, its journal kept, goes again from
  the task that faulted (``engine.journal.retry_voids``): what completed is
  replayed, the failed task runs anew. A subflow that faulted it is retried with
  it, first, so the parent's replay waits for the child's new attempt.
- **Re-run from a task**: a new instance of the same definition version and
  input whose journal is a copy of the original's up to the first execution of a
  chosen task; it replays that prefix and executes from there (DBOS calls it a
  fork, Restate a restart from a journal prefix). The original is untouched.
  Whatever the original recorded after that point (in another ``fork`` branch
  too) runs again.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from ulid import ULID

from podium.engine.journal import RERUN, failure_path, retry_voids, within
from podium.store import (
    FAULTED,
    PENDING,
    RETRY,
    InstanceQuery,
    InstanceRecord,
    JournalEntry,
    Store,
    quarantined,
)

# Iteration, attempt and visit marks in a position: without them it is the task's
# reference (its JSON pointer in the document).
_MARKS = re.compile(r"\[\d+\]|@\d+|~\d+")


class Refused(Exception):
    """What the operator asked for cannot be done to this instance (the message
    says why, and what can be done instead)."""


def reference_of(position: str) -> str:
    """The task reference of a journal position (``/do/0/loop[2]/do/0/step@1`` →
    ``/do/0/loop/do/0/step``); a timer's or an event's suffix (``#...``) dropped."""
    return _MARKS.sub("", position.split("#", 1)[0])


async def retry(store: Store, instance_id: str, by: str) -> InstanceRecord:
    """Put a faulted instance back to pending (see the module's docstring)."""
    record = await store.get_instance(instance_id)
    if record is None:
        raise LookupError(f"no instance {instance_id!r}")
    if record.status != FAULTED:
        raise Refused(_not_faulted(record))
    if not quarantined(record):
        await _retry_children(store, record)
    retried = await store.request(instance_id, RETRY, by=by)
    if retried is None or retried.status == FAULTED:
        raise Refused(f"instance {instance_id} changed meanwhile: nothing retried")
    return retried


async def _retry_children(store: Store, record: InstanceRecord) -> None:
    """Retry the faulted subflows the parent's failure passed through (not those
    whose fault a ``try`` caught: their parent went on without them)."""
    children = await store.list_instances(
        InstanceQuery(parent=record.id, status=FAULTED, limit=1000))
    if not children:
        return
    path = failure_path(await store.read_journal(record.id))
    for child in children:
        if child.parent_position in path:
            await _retry_children(store, child)
            await store.request(child.id, RETRY, by=f"retry of {record.id}")


def _not_faulted(record: InstanceRecord) -> str:
    what = f"instance {record.id} is {record.status}, not faulted"
    if record.status == "suspended":
        return f"{what}: resume it to continue"
    if record.status in ("completed", "cancelled"):
        return f"{what}: nothing to retry (a re-run from a task starts a new instance)"
    return f"{what}: it is not stopped, nothing to retry"


async def rerun(
    store: Store, instance_id: str, start: str, by: str, key: str | None = None
) -> tuple[InstanceRecord, bool]:
    """A new instance that replays ``instance_id``'s journal up to the first
    execution of ``start`` (a journal position, or a task reference such as
    ``/do/2/charge``) and executes from there; with ``key``, an earlier re-run
    under that idempotency key is returned instead (and False)."""
    original = await store.get_instance(instance_id)
    if original is None:
        raise LookupError(f"no instance {instance_id!r}")
    entries = await store.read_journal(instance_id)
    voided = retry_voids(entries)
    kept = [entry for index, entry in enumerate(entries) if index not in voided]
    cut = next((index for index, entry in enumerate(kept)
                if within(entry.position, start) or within(reference_of(entry.position), start)),
               None)
    if cut is None:
        raise Refused(f"task {start} never ran in instance {instance_id}: nothing to re-run"
                      " from (pick a task its history shows)")
    new_id = str(ULID()).lower()
    now = datetime.now(UTC)
    # The operator's lines (instance.*) are the original's story, not this one's.
    history = [replace(entry, instance_id=new_id, seq=None)
               for entry in kept[:cut] if not entry.kind.startswith("instance.")]
    history.append(JournalEntry(new_id, "/", RERUN, now,
                                {"by": by, "from": instance_id, "at": start}))
    record = InstanceRecord(
        id=new_id, key=key, namespace=original.namespace, name=original.name,
        version=original.version, status=PENDING,
        # As stored: secret references stay references, resolved when it runs.
        input=original.input,
        created_at=now, updated_at=now,
        # Started (its journal is read when it runs); its run announces its start
        # all the same (engine.journal: a journal that ends with RERUN has not run).
        started_at=now,
    )
    return await store.create_instance(record, history)

