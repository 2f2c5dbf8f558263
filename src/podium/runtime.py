"""The Python API: ``Runtime().run(workflow, input)``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from ulid import ULID

from podium._version import __version__
from podium.dsl import Definition, load
from podium.engine.errors import WorkflowError
from podium.engine.lifecycle import Lifecycle, Listener
from podium.engine.runner import run_workflow, timeout_seconds
from podium.engine.schemas import SchemaCache
from podium.engine.services import Services
from podium.engine.state import Instance
from podium.events.bus import EventBus, InProcessBus
from podium.expressions import Evaluator

WorkflowSource = Definition | str | Path | Mapping[str, Any]

# Sane client defaults: a slow service should not hang a workflow forever;
# task and workflow timeouts bound calls further.
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass(frozen=True)
class Execution:
    """How an execution ended: ``completed`` with an output, or ``faulted``/
    ``cancelled`` with an error."""

    id: str
    status: str
    output: Any = None
    error: WorkflowError | None = None


class Runtime:
    """Runs workflow definitions in this process.

    ``listeners`` receive every lifecycle CloudEvent (a dict); ``bus`` carries
    emitted events (in-process by default); ``secrets`` maps secret names to
    values for ``$secrets`` and secret-based authentication.
    """

    def __init__(
        self,
        *,
        listeners: Iterable[Listener] = (),
        bus: EventBus | None = None,
        http_client: httpx.AsyncClient | None = None,
        secrets: Mapping[str, Any] | None = None,
    ) -> None:
        self._own_client = http_client is None
        self.services = Services(
            http=http_client or httpx.AsyncClient(timeout=HTTP_TIMEOUT),
            bus=bus or InProcessBus(),
            listeners=list(listeners),
            secrets=dict(secrets or {}),
            runtime_descriptor={"name": "podium", "version": __version__, "metadata": {}},
        )

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
        if self._own_client:
            await self.services.http.aclose()

    async def run(self, workflow: WorkflowSource, input: Any = None) -> Any:
        """Run to the end and return the output; raise ``WorkflowError`` if it faults."""
        execution = await self.execute(workflow, input)
        if execution.error is not None:
            raise execution.error
        return execution.output

    async def execute(
        self, workflow: WorkflowSource, input: Any = None, *, instance_id: str | None = None
    ) -> Execution:
        """Run to the end and report how it ended (never raises for a fault)."""
        return await self.start(workflow, input, instance_id=instance_id).result()

    def start(
        self, workflow: WorkflowSource, input: Any = None, *, instance_id: str | None = None
    ) -> Handle:
        """Start an execution in the background; the handle controls and awaits it.

        The document is loaded (and refused if invalid) before this returns."""
        definition = workflow if isinstance(workflow, Definition) else load(workflow)
        model = definition.model
        instance_id = instance_id or str(ULID()).lower()
        instance = Instance(
            id=instance_id,
            definition=definition,
            services=self.services,
            raw_input=input if input is not None else {},
            evaluator=Evaluator(model.evaluate.mode if model.evaluate else "strict"),
            lifecycle=Lifecycle(
                self.services.listeners, f"{definition.name}-{instance_id}.{definition.namespace}"
            ),
            schemas=SchemaCache(definition.source),
        )
        return Handle(instance)


class Handle:
    """A running execution: suspend, resume, cancel, or await its end."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._task = asyncio.ensure_future(_execute(instance))

    @property
    def id(self) -> str:
        return self._instance.id

    @property
    def status(self) -> str:
        """The status phase (dsl.md "Status Phases")."""
        return self._instance.status

    def suspend(self) -> None:
        """Hold the execution at the start of its next task until ``resume``."""
        instance = self._instance
        if instance.status in ("running", "waiting"):
            instance.running.clear()
            instance.status = "suspended"
            instance.lifecycle.workflow_event("suspended", "suspendedAt", "suspended")

    def resume(self) -> None:
        instance = self._instance
        if instance.status == "suspended":
            instance.status = "waiting" if instance.waits else "running"
            instance.lifecycle.workflow_event("resumed", "resumedAt", "running")
            instance.running.set()

    def cancel(self) -> None:
        """Interrupt the running task; no further task runs."""
        self._task.cancel()

    async def result(self) -> Execution:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # the caller itself was cancelled
            return Execution(self._instance.id, "cancelled")


async def _execute(instance: Instance) -> Execution:
    lifecycle = instance.lifecycle
    document = instance.definition.model.document
    instance.status = "running"
    lifecycle.workflow_event(
        "started", "startedAt", "running",
        definition={"namespace": document.namespace, "name": document.name,
                    "version": document.version},
    )
    try:
        limit = timeout_seconds(instance.definition.model.timeout, instance, None, "/timeout")
        if limit is None:
            output = await run_workflow(instance)
        else:
            try:
                async with asyncio.timeout(limit):
                    output = await run_workflow(instance)
            except TimeoutError:
                raise WorkflowError.timeout(
                    f"the workflow did not complete within {limit:g}s", "/"
                ) from None
    except WorkflowError as error:
        if error.instance is None:
            error.instance = "/"
        instance.status = "faulted"
        lifecycle.workflow_event("faulted", "faultedAt", "faulted", error=error.to_dict())
        return Execution(instance.id, "faulted", error=error)
    except asyncio.CancelledError:
        instance.status = "cancelled"
        lifecycle.workflow_event("cancelled", "cancelledAt", "cancelled")
        raise
    instance.status = "completed"
    lifecycle.workflow_event("completed", "completedAt", "completed", output=output)
    return Execution(instance.id, "completed", output=output)


__all__ = ["Execution", "Handle", "Runtime"]
