"""Which events a listener accepts: event filters, correlation, consumption
strategies (dsl-reference "Event Consumption Strategy", "Event Filter",
"Correlation").

A listener is described by a *spec*, plain JSON so that it can be stored with
the subscription and matched by whichever process dispatches an event, without
loading the instance::

    {"task": "/do/0/bid", "mode": "strict", "read": "data", "strategy": "any",
     "filters": [{"with": {...}, "correlate": {"auctionId": {"from": ".data.id",
                                                             "expect": "a-1"}}}],
     "until": null | {"expression": "..."} | {"strategy": "one", "filters": [...]}}

Matching an attribute of ``with`` (where the spec is silent, Podium decides):

- a runtime expression (``${ .temperature > 38 }``) is evaluated with ``.`` the
  event's value of that attribute (``data``: the event's data); it matches when
  the result is neither ``false`` nor ``null``. Beside the event it sees the
  instance's arguments as they were when the listener started (``$workflow``,
  ``$context``, a ``for`` item: ``spec["variables"]``, those it uses);
- a string matches an equal string, or one that the string, read as a regular
  expression, matches as a whole (``com\\.example\\..*``);
- an object matches an object holding at least its members, each matching
  recursively (``data: {kind: bid}``); anything else must be equal.

Correlation: ``from`` (a runtime expression over the whole event, with or
without ``${ }``) extracts a value; with ``expect`` (evaluated by the listener
when it started listening) the value must equal it; without, the first event
that matches binds the key for the listener and later events must carry the
same value (dsl-reference "Correlation"). Keys of the same name in several
filters share one binding.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from podium.dsl import model as m
from podium.errors import WorkflowError
from podium.expressions import Evaluator
from podium.expressions.jq import (
    ExpressionSyntaxError,
    compile_expression,
    expression_text,
    is_expression,
)

CloudEvent = dict[str, Any]
ANY_TYPE = "*"
# An event type matched by equality only: no character a regular expression gives
# a meaning to, but the dot (which a type always has, and which as a regex would
# match any character: a type filter matches the dotted name itself and, rarely,
# other names of the same length, which the full match below then sorts out).
_PLAIN_TYPE = re.compile(r"[A-Za-z0-9._:/\-]+")
_NO_VARIABLES: Mapping[str, Any] = {}


@dataclass(frozen=True)
class Received:
    """An event delivered to a listener: which of its filters it satisfied
    (indices into the strategy's filters, and into ``until``'s), and the
    correlation values it carries."""

    key: str  # unique per event (its inbox key, or an in-memory counter)
    event: CloudEvent
    filters: tuple[int, ...] = ()
    until: tuple[int, ...] = ()
    keys: dict[str, Any] = field(default_factory=dict)


def filter_spec(event_filter: m.EventFilter, expects: Mapping[str, Any]) -> dict[str, Any]:
    """One filter as stored: ``with`` as written, correlations with their
    ``expect`` already evaluated (``expects``, by key name)."""
    spec: dict[str, Any] = {
        "with": event_filter.with_.model_dump(by_alias=True, exclude_none=True, mode="json")
    }
    if event_filter.correlate:
        spec["correlate"] = {
            name: {"from": correlation.from_, **({"expect": expects[name]}
                                                  if name in expects else {})}
            for name, correlation in event_filter.correlate.items()
        }
    return spec


def strategy_filters(strategy: m.EventConsumptionStrategy | m.UntilStrategy) -> tuple[
    str, list[m.EventFilter]
]:
    """The strategy's kind and its filters (``one`` has a single one)."""
    if strategy.one is not None:
        return "one", [strategy.one]
    if strategy.all is not None:
        return "all", list(strategy.all)
    return "any", list(strategy.any or [])


def types_of(spec: Mapping[str, Any]) -> list[str]:
    """The event types a listener may accept, for indexing its subscription:
    each filter's literal ``type``, or ``*`` when one names none (or a pattern,
    or an expression) or the strategy is ``any`` with no filter (every event)."""
    found: set[str] = set()
    for filters in _filter_groups(spec):
        if not filters:
            found.add(ANY_TYPE)
        for event_filter in filters:
            event_type = event_filter["with"].get("type")
            if isinstance(event_type, str) and _PLAIN_TYPE.fullmatch(event_type) \
                    and not is_expression(event_type):
                found.add(event_type)
            else:
                found.add(ANY_TYPE)
    return sorted(found)


def variables_used(spec: Mapping[str, Any]) -> list[str]:
    """The ``$names`` the listener's filter expressions use (``with`` values and
    correlation ``from``), which the matcher must be given."""
    found: dict[str, None] = {}

    def visit(value: Any, always: bool = False) -> None:
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, str) and (always or is_expression(value)):
            # A syntax error is reported at load; at run time the filter matches nothing.
            with contextlib.suppress(ExpressionSyntaxError):
                found.update(dict.fromkeys(compile_expression(expression_text(value)).variables))

    for filters in _filter_groups(spec):
        for event_filter in filters:
            visit(event_filter["with"])
            for correlation in (event_filter.get("correlate") or {}).values():
                visit(correlation["from"], always=True)
    return list(found)


def _filter_groups(spec: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """The filters of the strategy, and those of an ``until`` strategy if any."""
    groups = [spec["filters"]]
    until = spec.get("until")
    if isinstance(until, dict) and "filters" in until:
        groups.append(until["filters"])
    return groups


def bind(spec: Mapping[str, Any], bound: dict[str, Any], keys: Mapping[str, Any]) -> bool:
    """Bind the correlation keys without ``expect`` that a delivered event
    carries and ``bound`` lacks (the first matching event binds them:
    dsl-reference "Correlation"); True when one was bound."""
    changed = False
    for group in _filter_groups(spec):
        for event_filter in group:
            for name, correlation in (event_filter.get("correlate") or {}).items():
                if "expect" not in correlation and name in keys and name not in bound:
                    bound[name] = keys[name]
                    changed = True
    return changed


class Matcher:
    """Matches events against listener specs (one per dispatching process)."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.loose = Evaluator("loose", evaluator.sandbox)

    async def match(
        self, spec: Mapping[str, Any], bound: Mapping[str, Any], key: str,
        event: Mapping[str, Any],
    ) -> Received | None:
        """The delivery of ``event`` to the listener, or None when it accepts none
        of it. ``bound``: correlation values the listener bound so far. Errors in
        the listener's expressions count as no match (the event is for others)."""
        where = f"{spec.get('task', '')}/listen"
        evaluator = self.loose if spec.get("mode") == "loose" else self.evaluator
        variables = spec.get("variables") or _NO_VARIABLES
        keys: dict[str, Any] = {}
        filters = await self._group(evaluator, spec["filters"], bound, event, keys, where,
                                    variables)
        every = not spec["filters"]  # `any: []`: every event
        until_spec = spec.get("until")
        until: list[int] = []
        if isinstance(until_spec, dict) and "filters" in until_spec:
            until = await self._group(evaluator, until_spec["filters"], bound, event, keys,
                                      where, variables)
        if not filters and not until and not every:
            return None
        return Received(key, dict(event), tuple(filters), tuple(until), keys)

    async def _group(
        self, evaluator: Evaluator, filters: list[dict[str, Any]], bound: Mapping[str, Any],
        event: Mapping[str, Any], keys: dict[str, Any], where: str, variables: Mapping[str, Any],
    ) -> list[int]:
        matched = []
        for index, event_filter in enumerate(filters):
            found = await self._filter(evaluator, event_filter, bound, event, where, variables)
            if found is not None:
                matched.append(index)
                for name, value in found.items():
                    keys.setdefault(name, value)
        return matched

    async def _filter(
        self, evaluator: Evaluator, event_filter: Mapping[str, Any], bound: Mapping[str, Any],
        event: Mapping[str, Any], where: str, variables: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        try:
            for name, expected in event_filter["with"].items():
                if not await self._value(evaluator, expected, event.get(name), where,
                                         variables):
                    return None
            keys: dict[str, Any] = {}
            for name, correlation in (event_filter.get("correlate") or {}).items():
                value = await evaluator.run(
                    expression_text(correlation["from"]), dict(event), variables, where
                )
                expected = correlation["expect"] if "expect" in correlation else bound.get(
                    name, _UNBOUND)
                if expected is not _UNBOUND and value != expected:
                    return None
                keys[name] = value
            return keys
        except WorkflowError:
            return None

    async def _value(self, evaluator: Evaluator, expected: Any, actual: Any, where: str,
                     variables: Mapping[str, Any]) -> bool:
        if isinstance(expected, str):
            if is_expression(expected):
                return await evaluator.condition(expected, actual, variables, where)
            if actual == expected:
                return True
            pattern = _pattern(expected)
            return isinstance(actual, str) and pattern is not None \
                and pattern.fullmatch(actual) is not None
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                return False
            for name, value in expected.items():
                if name not in actual or not await self._value(
                        evaluator, value, actual[name], where, variables):
                    return False
            return True
        return bool(expected == actual)


_UNBOUND = object()
T = TypeVar("T")


class CorrelationIndex(Generic[T]):
    """Many listeners of one event type, each expecting its own correlation value
    (auctions waiting for their bids): an event is matched against those whose
    expected values it carries, not against all. A listener whose every filter
    has a correlation with ``expect`` is indexed by (``from``, expected value) of
    each filter; one ``from`` is evaluated once per event. Others are always
    candidates."""

    def __init__(self, items: Iterable[T], spec_of: Callable[[T], Mapping[str, Any]]) -> None:
        self.always: list[T] = []
        self.by_value: dict[str, dict[str, list[T]]] = {}
        self.order: dict[int, int] = {}
        for position, item in enumerate(items):
            self.order[id(item)] = position
            keys = _index_keys(spec_of(item))
            if keys is None:
                self.always.append(item)
                continue
            for source, value in keys:
                self.by_value.setdefault(source, {}).setdefault(value, []).append(item)

    async def candidates(self, matcher: Matcher, event: Mapping[str, Any],
                         carried: Mapping[str, str | None] | None = None) -> list[T]:
        """Listeners that may accept ``event``, in their original order.
        ``carried``: the values (canonical JSON, None: none) the event carries for
        the ``from`` expressions already evaluated (``carried_values``)."""
        if not self.by_value:
            return self.always
        found = {id(item): item for item in self.always}
        for source, table in self.by_value.items():
            value = (carried[source] if carried is not None and source in carried
                     else await carried_value(matcher, source, event))
            for item in table.get(value, ()) if value is not None else ():
                found[id(item)] = item
        return sorted(found.values(), key=lambda item: self.order[id(item)])


async def carried_value(matcher: Matcher, source: str, event: Mapping[str, Any]) -> str | None:
    """The value (canonical JSON) that the correlation expression ``source``
    extracts from ``event``; None when it fails on it."""
    try:
        value = await matcher.evaluator.run(expression_text(source), dict(event),
                                            _NO_VARIABLES, "/listen")
    except WorkflowError:
        return None
    return canonical(value)


def correlation_of(spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """(from, expected value as canonical JSON) when every filter of the listener
    expects the same correlation value: the store indexes the subscription by it
    (``SubscriptionRecord.correlation``); None when the listener may accept events
    whatever they carry."""
    keys = _index_keys(spec)
    if not keys or len(set(keys)) != 1:
        return None
    return keys[0]


def _index_keys(spec: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """(from, expected value) of one expected correlation per filter, or None when
    a filter (of the strategy or of ``until``) has none: such a listener may
    accept events whatever they carry. Loose-mode listeners are never indexed
    (their expressions may be text), nor those whose expressions use the
    instance's arguments (``from`` may then differ from one listener to another)."""
    if spec.get("mode") == "loose" or spec.get("variables"):
        return None
    if not spec["filters"]:
        return None
    keys = []
    for event_filter in (f for group in _filter_groups(spec) for f in group):
        expected = [(c["from"], canonical(c["expect"]))
                    for c in (event_filter.get("correlate") or {}).values() if "expect" in c]
        if not expected:
            return None
        keys.append(expected[0])
    return keys


def canonical(value: Any) -> str:
    """A value as the store indexes it (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def read(event: Mapping[str, Any], mode: str) -> Any:
    """An event as a listener reads it (dsl-reference "Listen", ``read``): ``data``
    its data; ``envelope`` the whole event, context attributes and data;
    ``raw`` the data as it travelled: the text of ``data_base64``, a string data as
    it is, other data as its JSON text (where the spec is silent)."""
    if mode == "envelope":
        return dict(event)
    if mode == "raw":
        if "data_base64" in event:
            return event["data_base64"]
        data = event.get("data")
        if data is None or isinstance(data, str):
            return data
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return event.get("data")
