"""`listen`: wait for events (dsl-reference "Listen", "Event Consumption Strategy").

The host matches arriving events against the listener's filters and
correlations (``podium.events.matching``) and puts what matches in its mailbox;
this task decides what each delivered event is for (an item of the output, the
end of an ``until``, or nothing more is needed of it) and journals every
decision before acting on it. Replay reads the decisions back, so the same
events come back in the same order after a crash, and a listener killed while
waiting keeps the events it had consumed.

Choices where the spec is silent (README "Events"):

- Not retroactive: a listener receives the events dispatched after it started
  listening (its subscription was recorded), never earlier ones.
- ``all``: an event counts for the first of its filters not satisfied yet; an
  event matching only satisfied filters is skipped. The output lists the events
  in the order they arrived.
- ``any`` with an ``until`` expression: the expression is evaluated after each
  consumed event, ``.`` being the output so far (the events as read, or
  ``foreach``'s outputs); events of an ``until`` strategy end the listener and
  are not part of the output (the spec's warning).
- The task's output is the array of consumed events as read (``read``), or of
  what ``foreach`` made of each.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from podium.dsl import model as m
from podium.engine import runner
from podium.engine.errors import WorkflowError
from podium.engine.host import Mailbox, Received
from podium.engine.journal import EVENT_RECEIVED, Parked
from podium.engine.state import TaskRun
from podium.events import matching

ITEM, UNTIL, SKIP = "item", "until", "skip"


async def execute(task: m.ListenTask, run: TaskRun) -> Any:
    instance = run.instance
    instance.listening += 1  # until closed: its host cleans up after an instance that ends
    host = instance.services.host
    if host is None:  # pragma: no cover - every Runtime is a host
        raise WorkflowError.configuration("listen needs a host", run.reference)
    spec = await subscription_spec(task.listen.to, task.listen.read, run)
    listener = _Listener(task, run, spec)
    await listener.replay()
    if listener.done:
        return listener.items
    deadline = min(instance.deadlines, default=None)
    mailbox = await host.subscribe(instance, run.position, spec, matching.types_of(spec),
                                   deadline, resumed=run.resumed)
    if not run.resumed:
        instance.lifecycle.workflow_event("correlation-started", "startedAt", None)
    # The subscription ends with the listener: when it is done, or faulted (a
    # `foreach` task), or timed out. It stays when the instance only leaves this
    # process (parked, released to another worker, the store failing): the events
    # that arrive meanwhile wait in its mailbox. An instance that ends removes
    # whatever its listeners left (podium.worker: `listened`).
    try:
        with runner.waiting(run, announced=run.resumed):
            await listener.consume(mailbox)
    except WorkflowError:
        await mailbox.close()
        raise
    except asyncio.CancelledError:
        if _timed_out(instance.deadlines):
            await mailbox.close()
        raise
    await mailbox.close(listener.unmarked)
    instance.listening -= 1
    instance.lifecycle.workflow_event("correlation-completed", "completedAt", None,
                                      correlationKeys=listener.keys)
    return listener.items


async def subscription_spec(strategy: m.EventConsumptionStrategy, read: str,
                            run: TaskRun) -> dict[str, Any]:
    """The listener as the matcher sees it: its filters with their correlation
    ``expect`` evaluated now, against the task's input (a constant, or a runtime
    expression: dsl-reference "Correlation")."""
    mode = (run.instance.evaluator.loose and "loose") or "strict"

    async def filters(items: list[m.EventFilter]) -> list[dict[str, Any]]:
        built = []
        for event_filter in items:
            expects = {
                name: await run.template(correlation.expect)
                for name, correlation in (event_filter.correlate or {}).items()
                if correlation.expect is not None
            }
            built.append(matching.filter_spec(event_filter, expects))
        return built

    kind, items = matching.strategy_filters(strategy)
    until: dict[str, Any] | None = None
    if isinstance(strategy.until, str):
        until = {"expression": strategy.until}
    elif strategy.until is not None:
        until_kind, until_items = matching.strategy_filters(strategy.until)
        until = {"strategy": until_kind, "filters": await filters(until_items)}
    spec = {"task": run.reference, "mode": mode, "read": read, "strategy": kind,
            "filters": await filters(items), "until": until}
    # Filter expressions see the event as `.` and the instance's arguments as they
    # are now ($workflow, $context, a `for` item...): the matcher runs elsewhere.
    arguments = run.variables("task")
    names = matching.variables_used(spec)
    missing = [name for name in names if name not in arguments]
    if missing:
        raise WorkflowError.expression(
            f"an event filter uses ${missing[0]}, which is not defined here", run.reference)
    if names:
        spec["variables"] = {name: arguments[name] for name in names}
    return spec


def _timed_out(deadlines: list[datetime]) -> bool:
    return bool(deadlines) and min(deadlines) <= datetime.now(UTC)


class _Listener:
    """Where one listen stands: what it consumed, and whether it is done."""

    def __init__(self, task: m.ListenTask, run: TaskRun, spec: dict[str, Any]) -> None:
        self.task = task
        self.run = run
        self.spec = spec
        self.items: list[Any] = []
        self.keys: dict[str, Any] = {}
        self.count = 0  # deliveries decided on (the journal's event.received entries)
        self.seen: set[str] = set()
        self.unmarked: list[Received] = []  # journaled, not yet marked consumed
        self.satisfied: set[int] = set()  # `all`: filters an event counted for
        self.until_satisfied: set[int] = set()
        self.done = False

    def _position(self, number: int) -> str:
        return f"{self.run.position}#event[{number}]"

    async def replay(self) -> None:
        journal = self.run.instance.journal
        if not journal.enabled:
            return
        while not self.done:
            recorded = journal.effect(EVENT_RECEIVED, self._position(self.count))
            if recorded is None:
                return
            received = Received(recorded["key"], recorded["event"],
                                tuple(recorded.get("filters", ())),
                                tuple(recorded.get("until", ())), recorded.get("keys") or {})
            self.count += 1
            self.seen.add(received.key)
            await self._apply(recorded["use"], received)

    async def consume(self, mailbox: Mailbox) -> None:
        while not self.done:
            batch = [r for r in await mailbox.take() if r.key not in self.seen]
            if not batch:
                if mailbox.parks:
                    # Out of memory until a delivery (or a timeout) makes it due.
                    raise Parked("waiting", min(self.run.instance.deadlines, default=None))
                await mailbox.wait(None)
                continue
            decided = []
            for received in batch:
                if self.done:
                    break  # the rest was for this listener, but it needs no more
                use = self._decide(received)
                await self.run.instance.journal.record(
                    self._position(self.count), EVENT_RECEIVED,
                    {"task": self.run.reference, "key": received.key, "use": use,
                     "event": received.event, "filters": list(received.filters),
                     "until": list(received.until), "keys": received.keys},
                )
                self.count += 1
                self.seen.add(received.key)
                decided.append(received)
                await self._apply(use, received)
            if self.done:
                self.unmarked = decided  # marked when the mailbox closes
            else:
                await mailbox.consumed(decided)

    def _decide(self, received: Received) -> str:
        """What a delivered event is for (pure: replay reads the decision back)."""
        until = self.spec.get("until")
        if (received.until and isinstance(until, dict) and "filters" in until
                and (until["strategy"] != "all" or set(received.until) - self.until_satisfied)):
            return UNTIL
        strategy = self.spec["strategy"]
        if strategy == "all":
            return ITEM if set(received.filters) - self.satisfied else SKIP
        if received.filters or not self.spec["filters"]:
            return ITEM
        return SKIP

    async def _apply(self, use: str, received: Received) -> None:
        for name, value in received.keys.items():
            self.keys.setdefault(name, value)
        if use == UNTIL:
            until = self.spec["until"]
            if until["strategy"] == "all":
                fresh = [i for i in received.until if i not in self.until_satisfied]
                self.until_satisfied.add(fresh[0])
                self.done = len(self.until_satisfied) == len(until["filters"])
            else:
                self.done = True
            return
        if use != ITEM:
            return
        strategy = self.spec["strategy"]
        if strategy == "all":
            self.satisfied.add(next(i for i in received.filters if i not in self.satisfied))
        value = matching.read(received.event, self.spec["read"])
        index = len(self.items)
        output, ended = await runner.subscription_item(
            self.run, self.task.foreach, "foreach", value, index
        )
        self.items.append(output)
        if ended:
            self.run.ended = True
            self.done = True
            return
        if strategy == "one":
            self.done = True
        elif strategy == "all":
            self.done = len(self.satisfied) == len(self.spec["filters"])
        else:
            until = self.spec.get("until")
            if until is None:
                self.done = True
            elif "expression" in until:
                self.done = await self.run.condition(until["expression"], self.items)
