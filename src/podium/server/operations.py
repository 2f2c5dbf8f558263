"""What an operator can do to definitions and instances, once: the API's routes
and the dashboard's forms both call these. Each returns what it changed or
raises an ``ApiProblem`` that says why it could not."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from podium import InvalidWorkflowError, Runtime, WorkflowError, load, recovery
from podium.engine.secret_refs import displayed
from podium.records import entry_json, instance_json
from podium.registry import WorkflowName
from podium.server.problems import ApiProblem
from podium.store import (
    CANCEL,
    CANCELLED,
    ENDED,
    RESUME,
    RETRY,
    SUSPEND,
    SUSPENDED,
    DefinitionConflict,
    DefinitionRecord,
    InstanceQuery,
    InstanceRecord,
    JournalEntry,
    Store,
)

log = logging.getLogger("podium.server")

PURGE = "purge"
BULK_ACTIONS = (CANCEL, RETRY, SUSPEND, RESUME, PURGE)
# Single actions a bulk action runs at once: enough for group commit to batch
# their writes, few enough to leave the store to everybody else.
BULK_CONCURRENCY = 16


def shown(record: InstanceRecord) -> dict[str, Any]:
    """An instance as the API shows it: its input is stored like journaled data,
    so secret references show as ``***``."""
    return instance_json(replace(record, input=displayed(record.input)))


def shown_entry(entry: JournalEntry) -> dict[str, Any]:
    """A history line as the API shows it: secret references as ``***``, never
    resolved."""
    return entry_json(replace(entry, data=displayed(entry.data)))


@dataclass
class BulkOutcome:
    """What a bulk action did: how many instances the filter chose, the ids it
    acted on, and why it could not act on the others."""

    action: str
    matched: int = 0
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, ApiProblem]] = field(default_factory=list)


def nul_at(value: Any) -> str | None:
    """The JSON pointer of the first string or key in ``value`` holding NUL
    (U+0000), which PostgreSQL cannot store; None when there is none. The API
    refuses such data on every store alike."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return path or "/"
        if isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
                if "\x00" in str(key):
                    return where
                stack.append((child, where))
        elif isinstance(item, list):
            stack.extend((child, f"{path}/{index}") for index, child in enumerate(item))
    return None


def invalid(exc: InvalidWorkflowError) -> ApiProblem:
    return ApiProblem(
        400, f"the workflow is invalid: {len(exc.problems)} problem(s)", "invalid-workflow",
        problems=[str(problem) for problem in exc.problems])


def ended(record: InstanceRecord, command: str) -> ApiProblem:
    return ApiProblem(409, f"instance {record.id} has ended ({record.status}): "
                      f"nothing to {command}", "instance-ended")


class Operations:
    """The operator's actions over one runtime (its store and its dispatcher)."""

    def __init__(self, runtime: Runtime) -> None:
        assert runtime.store is not None, "podium serve runs over a store"
        self.runtime = runtime
        self.store: Store = runtime.store

    async def found(self, instance_id: str) -> InstanceRecord:
        record = await self.store.get_instance(instance_id)
        if record is None:
            raise ApiProblem(404, f"no instance {instance_id!r}", "instance-not-found")
        return record

    async def deploy(self, text: str, origin: str) -> tuple[DefinitionRecord, bool]:
        """Deploy a document's text; the record and whether it is new (False: the
        identical version was deployed before)."""
        try:
            definition = load(text, origin)
        except InvalidWorkflowError as exc:
            raise invalid(exc) from None
        known = await self.store.get_definition(definition.namespace, definition.name,
                                                definition.version)
        try:
            record = await self.runtime.deploy(definition)
        except InvalidWorkflowError as exc:  # a resource it names cannot be read
            raise invalid(exc) from None
        except DefinitionConflict as exc:
            raise ApiProblem(409, f"{exc}; deploy it under a new document.version",
                             "definition-conflict") from None
        return record, known is None

    async def start(self, workflow: str, data: Any, key: str | None,
                    field: str = "body.workflow") -> tuple[InstanceRecord, bool]:
        """Start ``namespace/name[:version]``; the instance and whether it is new
        (False: ``key`` named an instance started before)."""
        name = WorkflowName.parse(workflow)
        if name is None:
            raise ApiProblem(422, f"workflow {workflow!r} is not namespace/name[:version]",
                             "invalid-request", field=field)
        where = nul_at(data)
        if where is not None:
            raise ApiProblem(400, f"the workflow input is refused: {where}: text with NUL "
                             "(U+0000) cannot be stored", "invalid-input")
        try:
            definition = await self.runtime.registry.get(name.namespace, name.name, name.version)
        except WorkflowError as exc:
            raise ApiProblem(404, str(exc), "definition-not-found") from None
        try:
            record, created = await self.runtime.create_instance(definition, data, key=key)
        except InvalidWorkflowError as exc:
            raise invalid(exc) from None
        except WorkflowError as exc:  # an input its schema refuses
            raise ApiProblem(400, str(exc), "invalid-input") from None
        if created:
            self.runtime.dispatcher.notify()
        return record, created

    async def control(self, instance_id: str, command: str, by: str) -> InstanceRecord:
        """Cancel, suspend or resume; asking again for what already holds is no error."""
        record = await self.found(instance_id)
        if record.status in ENDED:
            raise ended(record, command)
        if command == SUSPEND and record.status == SUSPENDED:
            return record
        if command == RESUME and record.status != SUSPENDED and record.request != SUSPEND:
            return record
        record = await self.store.request(instance_id, command, by=by) or record
        log.info("%s asked to %s %s: %s", by, command, instance_id, record.status)
        if record.status in ENDED and not (command == CANCEL and record.status == CANCELLED):
            raise ended(record, command)
        if command == RESUME:
            self.runtime.dispatcher.notify()
        return record

    async def retry(self, instance_id: str, by: str) -> InstanceRecord:
        """A faulted instance goes again from the task that faulted (``podium.recovery``)."""
        await self.found(instance_id)
        try:
            retried = await recovery.retry(self.store, instance_id, by)
        except recovery.Refused as exc:
            raise ApiProblem(409, str(exc), "conflict") from None
        log.info("%s retried %s", by, instance_id)
        self.runtime.dispatcher.notify()
        return retried

    async def purge(self, instance_id: str, by: str) -> InstanceRecord:
        """Delete an ended instance with its history, subscriptions and mailbox; the
        record as it was. The log keeps who purged it: its history is gone."""
        record = await self.found(instance_id)
        if record.status not in ENDED:
            raise ApiProblem(409, f"instance {instance_id} is {record.status}: only an ended "
                             "instance can be purged (cancel it first)", "instance-active")
        if not await self.store.purge_instances([instance_id]):
            raise ApiProblem(409, f"instance {instance_id} changed meanwhile: nothing purged",
                             "conflict")
        log.info("%s purged %s (%s/%s:%s, %s)", by, instance_id, record.namespace, record.name,
                 record.version, record.status)
        return record

    async def act(self, action: str, instance_id: str, by: str) -> InstanceRecord:
        """One of ``BULK_ACTIONS`` on one instance."""
        if action == RETRY:
            return await self.retry(instance_id, by)
        if action == PURGE:
            return await self.purge(instance_id, by)
        if action in (CANCEL, SUSPEND, RESUME):
            return await self.control(instance_id, action, by)
        raise ValueError(f"unknown action {action!r}")

    async def bulk(self, action: str, query: InstanceQuery, by: str) -> BulkOutcome:
        """``action`` on every instance ``query`` selects (at most ``query.limit``),
        each as its single action does it (its history names ``by``); an instance
        the action does not apply to is reported, and the others go on."""
        if action not in BULK_ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        chosen = await self.store.list_instances(query)
        gate = asyncio.Semaphore(BULK_CONCURRENCY)

        async def one(record: InstanceRecord) -> ApiProblem | None:
            async with gate:
                try:
                    await self.act(action, record.id, by)
                except ApiProblem as problem:
                    return problem
                return None

        outcome = BulkOutcome(action, matched=len(chosen))
        for record, problem in zip(chosen, await asyncio.gather(*map(one, chosen)), strict=True):
            if problem is None:
                outcome.done.append(record.id)
            else:
                outcome.failed.append((record.id, problem))
        log.info("%s: bulk %s of %d instance(s): %d done, %d not", by, action, outcome.matched,
                 len(outcome.done), len(outcome.failed))
        return outcome

    async def rerun(self, instance_id: str, start: str, by: str,
                    key: str | None = None) -> tuple[InstanceRecord, bool]:
        """A new instance that replays ``instance_id`` up to the task ``start`` and
        executes from there; the new instance and whether it is new (a ``key``
        used before names an earlier re-run)."""
        await self.found(instance_id)
        try:
            record, created = await recovery.rerun(self.store, instance_id, start, by, key)
        except recovery.Refused as exc:
            raise ApiProblem(409, str(exc), "conflict") from None
        if created:
            log.info("%s re-ran %s from %s as %s", by, instance_id, start, record.id)
            self.runtime.dispatcher.notify()
        return record, created
