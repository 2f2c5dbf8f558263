"""The Python API: ``Runtime().run(workflow, input)``, in memory or on a store."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from ulid import ULID

from podium import egress, payloads, tracecontext
from podium._version import __version__
from podium.config import Settings
from podium.dsl import Definition, load
from podium.dsl.strict_json import payload_problem
from podium.engine.errors import WorkflowError
from podium.engine.execution import Execution, execute
from podium.engine.host import Mailbox
from podium.engine.journal import RELEASED, Journal
from podium.engine.lifecycle import Lifecycle, Listener, only
from podium.engine.schemas import SchemaCache
from podium.engine.secret_refs import SecretReferences
from podium.engine.services import Services
from podium.engine.state import Instance
from podium.events.bus import EventBus, EventTransport, InProcessBus, TransportError
from podium.events.cloudevents import validate
from podium.events.dispatcher import Dispatcher, StoreMailbox
from podium.events.ingest import ingest
from podium.events.matching import CloudEvent, Matcher, correlation_of
from podium.events.memory import MemoryHub
from podium.events.sinks import LifecycleForwarder, sink_from_url
from podium.expressions import Evaluator
from podium.expressions.sandbox import Sandbox
from podium.registry import Registry
from podium.resources import fetch
from podium.secrets import SecretStore, redacting
from podium.store.base import (
    ENDED,
    PENDING,
    RUNNING,
    DefinitionRecord,
    InstanceRecord,
    Store,
    SubscriptionRecord,
)

WorkflowSource = Definition | str | Path | Mapping[str, Any]

# What the host meets that no lifecycle event tells, by kind (``podium.worker``:
# ``store``, ``lease_lost``, ``internal``, ``quarantined``): for whoever counts them.
ErrorReporter = Callable[[str], None]

# Sane client defaults: a slow service should not hang a workflow forever;
# task and workflow timeouts bound calls further.
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

LEASE_SECONDS = 10.0


def default_worker_id() -> str:
    """``host:pid``: unique while the process lives; a worker on the same host can
    tell that its owner died and take its instances at once."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Runtime:
    """Runs workflow definitions.

    Without a ``store`` everything lives in memory. With one (opened), every
    instance is recorded, every task outcome journaled, and an interrupted
    instance can be finished by any process on the same store.

    ``listeners`` receive every lifecycle CloudEvent (a dict), as do the sinks of
    ``settings.lifecycle_sinks`` (``podium.events.sinks``); ``bus`` carries
    emitted events (in-process by default); ``secrets`` maps secret names to
    values for ``$secrets`` and secret-based authentication; ``settings`` are the
    operator's (``podium.config.Settings``: allowed process kinds, secret
    sources, default catalog).
    """

    def __init__(
        self,
        *,
        store: Store | None = None,
        listeners: Iterable[Listener] = (),
        bus: EventBus | None = None,
        http_client: httpx.AsyncClient | None = None,
        secrets: Mapping[str, Any] | None = None,
        worker_id: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        settings: Settings | None = None,
    ) -> None:
        self._own_client = http_client is None
        self.store = store
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        settings = settings or Settings()
        self.registry = Registry(store, settings)
        secret_store = SecretStore(secrets, settings)
        # The operator's sinks are listeners like the caller's; every listener only
        # ever sees events with the secrets redacted.
        self.forwarders = [LifecycleForwarder(sink_from_url(url))
                           for url in settings.lifecycle_sinks]
        listeners = [*listeners, *self.forwarders]
        self._redactor = secret_store.redactor
        self.services = Services(
            http=http_client or httpx.AsyncClient(timeout=HTTP_TIMEOUT),
            bus=bus or InProcessBus(),
            listeners=[redacting(listener, secret_store.redactor) for listener in listeners],
            secrets=secret_store,
            runtime_descriptor={"name": "podium", "version": __version__, "metadata": {}},
            settings=settings,
            sandbox=Sandbox(timeout=settings.expression_timeout),
        )
        self.services.host = self
        # Told of errors outside instances (podium.telemetry counts them); none by default.
        self.report_error: ErrorReporter = _unreported
        self._subflows: set[asyncio.Task[Execution]] = set()  # unawaited, in memory
        # Listeners: matched in memory without a store, else by the dispatcher.
        self.matcher = Matcher(Evaluator("strict", self.services.sandbox))
        self._hub = MemoryHub(self.matcher)
        self._dispatcher: Dispatcher | None = None
        # Where emitted events go beside the store (NATS JetStream: podium worker --events).
        self.event_transports: list[EventTransport] = []
        # Every request of the client, redirect hops included, passes the egress
        # policy (also a client the caller gave: the policy is the operator's).
        egress.guard(self.services.http, settings)
        # ...and every body it reads is bounded (podium.payloads).
        payloads.guard(self.services.http)

    def add_listener(self, listener: Listener, types: Iterable[str] | None = None) -> None:
        """Send lifecycle events to ``listener`` too (secrets redacted, like every
        listener's), from the instances created from now on; only events of
        ``types`` if given (the others are not even built for it)."""
        redacted = redacting(listener, self._redactor)
        self.services.listeners.append(redacted if types is None else only(types, redacted))

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._dispatcher is not None:
            await self._dispatcher.aclose()
        # What the sinks have queued is delivered, for a moment at most.
        await asyncio.gather(*(forwarder.aclose() for forwarder in self.forwarders))
        await self.services.sandbox.aclose()
        if self._own_client:
            await self.services.http.aclose()

    # running ----------------------------------------------------------------------------

    async def run(self, workflow: WorkflowSource, input: Any = None) -> Any:
        """Run to the end and return the output; raise ``WorkflowError`` if it faults."""
        execution = await self.execute(workflow, input)
        if execution.error is not None:
            raise execution.error
        return execution.output

    async def execute(
        self, workflow: WorkflowSource, input: Any = None, *, key: str | None = None
    ) -> Execution:
        """Run to the end and report how it ended (never raises for a fault)."""
        handle = await self.start(workflow, input, key=key)
        return await handle.result()

    async def start(
        self, workflow: WorkflowSource, input: Any = None, *, key: str | None = None
    ) -> Handle:
        """Start an execution in this process; the handle controls and awaits it.

        The document is loaded (and refused if invalid) before this returns. With a
        store the instance is recorded first (``key`` makes the start idempotent)."""
        definition = workflow if isinstance(workflow, Definition) else load(workflow)
        data = _checked_input(input if input is not None else {})
        if self.store is None:
            instance = self.instance(definition, data, str(ULID()).lower())
            instance.trace_parent = tracecontext.current()
            return Handle(instance, asyncio.ensure_future(execute(instance)), runtime=self)
        record, created = await self.create_instance(definition, data, key=key, owned=True)
        if not created:
            # An idempotent start: the instance with this key already exists.
            return Handle.finished(record)
        from podium.worker import run_durable  # the worker module builds on this one

        # As deployed: with the texts of its file resources, which a worker taking
        # the instance over would read too.
        deployed = self.registry.definition(definition)
        instance = await self.resume_instance(record, deployed, fresh=True)
        return Handle(instance, asyncio.ensure_future(run_durable(self, instance, record)),
                      runtime=self)

    # the store ----------------------------------------------------------------------------

    async def deploy(self, workflow: WorkflowSource) -> DefinitionRecord:
        """Register a definition by namespace/name/version (see ``Registry``); with a
        store, its workflow's schedule follows the highest deployed version
        (``podium.scheduling.sync_schedule``). Starting or running a document
        records its definition too, but only a deploy touches schedules."""
        definition = workflow if isinstance(workflow, Definition) else load(workflow)
        record = await self.registry.deploy(definition)
        if self.store is not None:
            from podium.scheduling import sync_schedule  # it builds on this module

            await sync_schedule(self.store, record.namespace, record.name)
        return record

    async def create_instance(
        self,
        definition: Definition,
        input: Any,
        *,
        key: str | None = None,
        owned: bool = False,
        parent: tuple[str, str] | None = None,
        references: SecretReferences | None = None,
    ) -> tuple[InstanceRecord, bool]:
        """Record a new instance of a (deployed) definition: pending, or owned by this
        runtime when it runs it at once. Returns the existing one for a used key.

        The input is stored like journaled data: the secret values ``references``
        knows (a parent's, for a subflow) as references, strings that could pass
        for one escaped; ``resume_instance`` resolves them."""
        store = self._store()
        input = _checked_input(input)
        await self.registry.deploy(definition)
        now = datetime.now(UTC)
        record = InstanceRecord(
            id=str(ULID()).lower(),
            key=key,
            namespace=definition.namespace,
            name=definition.name,
            version=definition.version,
            status=RUNNING if owned else PENDING,
            input=(references or SecretReferences()).encode(input),
            created_at=now,
            updated_at=now,
            started_at=now if owned else None,
            owner=self.worker_id if owned else None,
            lease_expires_at=(
                datetime.fromtimestamp(now.timestamp() + self.lease_seconds, UTC)
                if owned else None
            ),
            parent_id=parent[0] if parent else None,
            parent_position=parent[1] if parent else None,
            trace_parent=tracecontext.current(),
        )
        return await store.create_instance(record)

    async def resume_instance(
        self, record: InstanceRecord, definition: Definition | None = None, fresh: bool = False
    ) -> Instance:
        """An in-memory instance for a recorded one, its journal loaded for replay
        (a ``fresh`` instance, just created, has none to read)."""
        store = self._store()
        if definition is None:
            definition = await self.registry.get(record.namespace, record.name, record.version)
        # An instance that never started has no journal to read.
        never_ran = fresh or record.started_at is None
        entries = [] if never_ran else await store.read_journal(record.id)
        journal = Journal(record.id, store, self.worker_id, entries,
                          secrets=self.services.secrets, resumed=not never_ran)
        # The input as given: a subflow's holds references to its parent's secrets.
        data = journal.resolve(record.input, "the input of this instance", "/")
        instance = self.instance(definition, data, record.id)
        instance.started_at = record.started_at or instance.started_at
        instance.created_at = record.created_at
        instance.trace_parent = record.trace_parent
        instance.journal = journal
        instance.unload_when_suspended = True
        return instance

    def instance(self, definition: Definition, data: Any, instance_id: str) -> Instance:
        model = definition.model
        return Instance(
            id=instance_id,
            definition=definition,
            services=self.services,
            raw_input=data,
            evaluator=Evaluator(model.evaluate.mode if model.evaluate else "strict",
                                self.services.sandbox),
            lifecycle=Lifecycle(
                self.services.listeners, f"{definition.name}-{instance_id}.{definition.namespace}"
            ),
            schemas=SchemaCache(functools.partial(self._schema_text, definition)),
        )

    async def _schema_text(self, definition: Definition, uri: str, where: str) -> str:
        """A JSON schema ``resource`` of ``definition``, read like every resource."""
        return await fetch(uri, definition, self.services, where)

    # host: events (engine.host) --------------------------------------------------------

    @property
    def dispatcher(self) -> Dispatcher:
        """Matches stored events to listeners (podium.events.dispatcher); runs in
        this process once something listens here, or under ``podium worker``."""
        if self._dispatcher is None:
            from podium.scheduling import start_scheduled

            self._dispatcher = Dispatcher(self._store(), self.worker_id, self.matcher,
                                          functools.partial(start_scheduled, self))
        return self._dispatcher

    async def subscribe(
        self, instance: Instance, position: str, spec: dict[str, Any], types: Sequence[str],
        deadline: datetime | None = None, *, resumed: bool = False,
    ) -> Mailbox:
        if self.store is None or not instance.journal.enabled:
            return self._hub.subscribe(instance.id, position, spec)
        parks = instance.park_after is not None
        if resumed:
            # Woken by a delivery: the subscription exists (a listener's mailbox
            # only fills while it does), so it need not be written again.
            delivered = await self.store.mailbox(instance.id, position)
            if delivered:
                return StoreMailbox(self.store, self.dispatcher, instance.id, position, parks,
                                    delivered)
        await self.store.subscribe(SubscriptionRecord(
            instance.id, position, tuple(types), spec, None, datetime.now(UTC), deadline,
            correlation_of(spec),
        ))
        dispatcher = self.dispatcher
        dispatcher.ensure_running()
        # A worker's instance leaves memory while it waits; one run here waits here.
        return StoreMailbox(self.store, dispatcher, instance.id, position, parks)

    async def publish(self, instance: Instance, event: CloudEvent) -> None:
        await self.publish_event(event, origin=f"instance:{instance.id}")

    async def publish_event(self, event: CloudEvent, origin: str = "api") -> bool:
        """Deliver a CloudEvent (structured form) to the listeners: with a store,
        into its inbox (False when the same source+id is stored already); without,
        to the listeners waiting in this process right now. An event that is not a
        valid CloudEvent raises ``InvalidEvent`` (a ``ValueError``) naming the
        attribute. Events an instance emitted also go to the event transports
        (``podium worker --events``)."""
        event = validate(event)
        await self.services.bus.publish(event)
        if self.store is None:
            await self._hub.deliver(event)
            return True
        result = await ingest(self.store, [event], origin, notify=self.dispatcher.notify)
        if origin.startswith("instance:"):
            for transport in self.event_transports:
                try:
                    await transport.publish(event)
                except TransportError as exc:
                    raise WorkflowError.communication(
                        f"the emitted event could not be published to {transport}: {exc}"
                    ) from None
        return bool(result.stored)

    def _store(self) -> Store:
        if self.store is None:
            raise WorkflowError.configuration("this runtime has no store")
        return self.store

    # host: subflows (engine.host) -------------------------------------------------------

    # How often a parent looks at a child that another worker runs.
    SUBFLOW_POLL_SECONDS = 0.2

    async def start_workflow(
        self, parent: Instance, position: str, namespace: str, name: str, version: str,
        input: Any, *, await_: bool,
    ) -> Execution | None:
        definition = await self.registry.get(namespace, name, version)
        if self.store is None:
            child = self.instance(definition, input, f"{parent.id}.{len(self._subflows)}")
            child.trace_parent = tracecontext.current()
            if not await_:
                task = asyncio.ensure_future(execute(child))
                self._subflows.add(task)
                task.add_done_callback(self._subflows.discard)
                return None
            return await execute(child)
        record, created = await self.create_instance(
            definition, input, key=f"{parent.id}:{position}", owned=await_,
            parent=(parent.id, position),
            # Secrets the parent passes are stored as references, as in its journal.
            references=parent.journal.references,
        )
        if not await_:
            return None
        if created:
            child = await self.resume_instance(record, definition, fresh=True)
            execution = await self._run_subflow(parent, child, record)
            if execution.status in ENDED:
                return execution
            # The child left memory without ending (it was suspended on its own):
            # once resumed, any worker may claim it. The parent waits for its end,
            # as a replaying parent does, rather than faulting.
        # The child exists: this parent is replaying. Wait for whoever runs it.
        while True:
            current = await self.store.get_instance(record.id)
            if current is None:
                raise WorkflowError.runtime(f"subflow instance {record.id} vanished")
            if current.status in ENDED:
                problem = WorkflowError.from_dict(current.error) if current.error else None
                return Execution(current.id, current.status, current.output, problem)
            await asyncio.sleep(self.SUBFLOW_POLL_SECONDS)

    async def _run_subflow(
        self, parent: Instance, child: Instance, record: InstanceRecord
    ) -> Execution:
        """Run an awaited child here, in a task of its own: the lease keeper cancels
        the task holding an instance, so a cancel request for the child must stop
        the child only (its parent's task then faults, as it does when it finds the
        child cancelled on replay). A parent that is stopped stops its child too:
        released along with it, or cancelled."""
        from podium.worker import keeper, run_durable

        task = asyncio.ensure_future(run_durable(self, child, record))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or not current.cancelling():
                return Execution(child.id, "cancelled")  # the child alone
            held = keeper(self).held
            theirs, ours = held.get(child.id), held.get(parent.id)
            releasing = ours is not None and theirs is not None and ours.releasing
            if releasing:
                theirs.releasing = True  # type: ignore[union-attr]
            task.cancel(RELEASED if releasing else None)
            await asyncio.wait([task])
            raise


def _unreported(kind: str) -> None:
    pass


def _checked_input(data: Any) -> Any:
    """The input of a new instance, refused before anything is recorded or run when
    it is not JSON data within the limits (README "Limits"): whatever the entry
    point (``run``, ``start``, a subflow), a store or a printer must never meet it."""
    problem = payload_problem(data)
    if problem is not None:
        raise WorkflowError.validation(f"the workflow input is refused: {problem}", "/")
    return data


class Handle:
    """A running execution: suspend, resume, cancel, or await its end."""

    def __init__(
        self, instance: Instance | None, task: asyncio.Future[Execution],
        instance_id: str | None = None, *, runtime: Runtime | None = None,
    ) -> None:
        self._instance = instance
        self._task = task
        self._id = instance.id if instance is not None else instance_id or ""
        self._runtime = runtime  # the one running the instance here

    @classmethod
    def finished(cls, record: InstanceRecord) -> Handle:
        """A handle on an instance that this process does not run (an idempotent
        start that found it), reporting what the store knows."""
        future: asyncio.Future[Execution] = asyncio.get_running_loop().create_future()
        error = WorkflowError.from_dict(record.error) if record.error else None
        future.set_result(Execution(record.id, record.status, record.output, error,
                                    record.wake_at))
        return cls(None, future, record.id)

    @property
    def id(self) -> str:
        return self._id

    @property
    def status(self) -> str:
        """The status phase (dsl.md "Status Phases")."""
        if self._instance is None:
            return self._task.result().status
        return self._instance.status

    def suspend(self) -> None:
        """Hold the execution at the start of its next task until ``resume``. With a
        store, the instance then leaves memory: resume it with ``store.request``."""
        if self._instance is not None:
            self._instance.suspend()

    def resume(self) -> None:
        if self._instance is not None:
            self._instance.resume()

    def release(self) -> None:
        """Stop running here and hand the instance back to the store, untouched,
        for a worker to continue (store-backed runs only)."""
        if self._instance is not None and self._runtime is not None:
            from podium.worker import keeper

            held = keeper(self._runtime).held.get(self._instance.id)
            if held is not None:
                held.releasing = True
        self._task.cancel()

    def cancel(self) -> None:
        """Interrupt the running task; no further task runs."""
        self._task.cancel()

    async def result(self) -> Execution:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # the caller itself was cancelled
            return Execution(self.id, "cancelled")


__all__ = ["Execution", "Handle", "Runtime"]
