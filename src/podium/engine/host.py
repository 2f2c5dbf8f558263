"""What tasks need from the process that runs them (ARCHITECTURE "Layers").

The engine never imports its hosts (``podium.runtime``, ``podium.worker``): a
task that must reach beyond its own instance (wait for events, publish one,
start a subflow) asks the host through this protocol, which the runtime
implements in memory or over a store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from podium.events.matching import CloudEvent, Received

if TYPE_CHECKING:
    from podium.engine.execution import Execution
    from podium.engine.state import Instance

__all__ = ["CloudEvent", "Host", "Mailbox", "Received"]


class Mailbox(Protocol):
    """The events delivered to one listener (an instance's ``listen`` at a position)."""

    async def take(self) -> list[Received]:
        """What arrived and was not consumed yet, in arrival order (may be empty)."""

    async def wait(self, seconds: float | None) -> None:
        """Return when more may have arrived, or after ``seconds``."""

    async def consumed(self, received: Sequence[Received]) -> None:
        """These were journaled (consumed or skipped): never hand them out again."""

    async def close(self, consumed: Sequence[Received] = ()) -> None:
        """The listener is done: mark ``consumed`` (as ``consumed`` does) and stop
        matching events for it; what it was delivered and did not take is dropped."""

    @property
    def parks(self) -> bool:
        """True when the instance should leave memory while nothing arrived (a
        worker's instance: a delivery makes it due again)."""


class Host(Protocol):
    """The services of the process running an instance that tasks may ask for."""

    async def subscribe(
        self, instance: Instance, position: str, spec: dict[str, Any], types: Sequence[str],
        deadline: Any = None, *, resumed: bool = False,
    ) -> Mailbox:
        """Start matching arriving events for a listener (idempotent for the same
        instance and position: a replayed listen finds its mailbox as it was).
        ``resumed``: the listen started in an earlier run (it subscribed then)."""

    async def publish(self, instance: Instance, event: CloudEvent) -> None:
        """Deliver an event an instance emitted (already journaled, with its id):
        to this host's inbox and transports; a second publish of the same
        source+id is stored once."""

    async def start_workflow(
        self, parent: Instance, position: str, namespace: str, name: str, version: str,
        input: Any, *, await_: bool,
    ) -> Execution | None:
        """Start a deployed workflow as the child of ``parent``'s task at ``position``
        (``run: workflow``). With a store, idempotent per parent and position: a
        parent that replays finds the child it started, not a second one.
        Awaited, return how the child ended (completed, faulted or cancelled, also
        when another process ran it); else return None once it is started.
        Raises ``WorkflowError`` when the workflow is not deployed."""
