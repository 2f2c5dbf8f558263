"""The CTK's Gherkin steps, matched by regular expression and run against Podium.

A step that matches no pattern fails the scenario: an unrecognised expectation
must never count as met.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.ctk.features import Step

TASK_STARTED = "io.serverlessworkflow.task.started.v1"
TASK_COMPLETED = "io.serverlessworkflow.task.completed.v1"
# Long enough for the slowest CTK scenario; short enough that a hung run fails.
EXECUTION_TIMEOUT = 30.0
# The CTK's public hosts, and where the fake services mount their stand-ins.
HOST_REWRITES = {
    "https://petstore.swagger.io/v2": "/petstore/v2",
    "https://httpbin.org": "/httpbin",
}

_yaml = YAML(typ="safe", pure=True)


@dataclass
class World:
    """What one scenario has set up and observed so far."""

    services_url: str
    definition: str | None = None
    input: Any = None
    executed: bool = False
    output: Any = None
    error: Any = None  # a podium.WorkflowError once the run faulted
    events: list[dict[str, Any]] = field(default_factory=list)


Handler = Callable[[World, re.Match[str], str | None], Awaitable[None]]


@dataclass(frozen=True)
class StepDefinition:
    pattern: re.Pattern[str]
    handler: Handler

    @property
    def takes_doc(self) -> bool:
        # Gherkin convention, followed throughout the CTK: a step that expects a
        # doc string ends with a colon.
        return self.pattern.pattern.endswith(":")


STEPS: list[StepDefinition] = []


def step(pattern: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        STEPS.append(StepDefinition(re.compile(pattern), handler))
        return handler

    return register


async def run_step(world: World, current: Step) -> None:
    matches = [
        (definition, match)
        for definition in STEPS
        if (match := definition.pattern.fullmatch(current.text)) is not None
    ]
    if not matches:
        pytest.fail(f"unknown CTK step ({current})", pytrace=False)
    if len(matches) > 1:
        pytest.fail(f"ambiguous CTK step ({current})", pytrace=False)
    definition, match = matches[0]
    if definition.takes_doc != (current.doc is not None):
        expectation = "needs" if definition.takes_doc else "does not take"
        pytest.fail(f"CTK step {expectation} a doc string ({current})", pytrace=False)
    await definition.handler(world, match, current.doc)


def parse_yaml(text: str | None) -> Any:
    assert text is not None  # run_step checked it
    return _yaml.load(text)


def rewrite_hosts(definition: str, services_url: str) -> str:
    for public, local in HOST_REWRITES.items():
        definition = definition.replace(public, services_url + local)
    return definition


def json_equal(left: Any, right: Any) -> bool:
    """Equality under JSON's rules: ``1 == 1.0`` but ``true != 1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return type(left) is type(right) and left == right


def resolve(value: Any, dotted: str) -> Any:
    """Follow ``a.b.0.c`` through objects and arrays; ``KeyError`` if absent."""
    for segment in dotted.split("."):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            raise KeyError(dotted)
    return value


def completed_output(world: World) -> Any:
    assert world.executed, "the scenario never executed the workflow"
    if world.error is not None:
        pytest.fail(f"the workflow faulted: {world.error.to_dict()}", pytrace=False)
    return world.output


def fault(world: World) -> Any:
    assert world.executed, "the scenario never executed the workflow"
    if world.error is None:
        pytest.fail(f"the workflow completed with output {world.output!r}", pytrace=False)
    return world.error


# --- given -----------------------------------------------------------------------


@step(r"a workflow with definition:")
async def given_definition(world: World, match: re.Match[str], doc: str | None) -> None:
    assert doc is not None
    world.definition = rewrite_hosts(doc, world.services_url)


@step(r"(?:given )?the workflow input is:")
async def given_input(world: World, match: re.Match[str], doc: str | None) -> None:
    world.input = parse_yaml(doc)


# --- when ------------------------------------------------------------------------


@step(r"the workflow is executed")
async def when_executed(world: World, match: re.Match[str], doc: str | None) -> None:
    # Imported here so the CTK is collected even while the package cannot import.
    from podium import Runtime, WorkflowError

    assert world.definition is not None, "no workflow definition was given"
    runtime = Runtime(listeners=[world.events.append])
    try:
        async with asyncio.timeout(EXECUTION_TIMEOUT):
            world.output = await runtime.run(world.definition, world.input)
    except WorkflowError as error:
        world.error = error
    finally:
        await runtime.aclose()
    world.executed = True


# --- then: outcome ---------------------------------------------------------------


@step(r"the workflow should complete")
async def then_completes(world: World, match: re.Match[str], doc: str | None) -> None:
    completed_output(world)


@step(r"the workflow should complete with output:")
async def then_completes_with(world: World, match: re.Match[str], doc: str | None) -> None:
    output, expected = completed_output(world), parse_yaml(doc)
    assert json_equal(output, expected), f"output {output!r} != expected {expected!r}"


@step(r"the workflow should fault")
async def then_faults(world: World, match: re.Match[str], doc: str | None) -> None:
    fault(world)


@step(r"the workflow should fault with error:")
async def then_faults_with(world: World, match: re.Match[str], doc: str | None) -> None:
    problem, expected = fault(world).to_dict(), parse_yaml(doc)
    mismatched = {
        key: (problem.get(key), value)
        for key, value in expected.items()
        if not json_equal(problem.get(key), value)
    }
    assert not mismatched, f"error {problem!r} differs (actual, expected): {mismatched!r}"


# --- then: output shape ----------------------------------------------------------


@step(r"the workflow output should have properties ((?:'[^']+'(?:, )?)+)")
async def then_has_properties(world: World, match: re.Match[str], doc: str | None) -> None:
    output = completed_output(world)
    missing = []
    for dotted in re.findall(r"'([^']+)'", match[1]):
        try:
            resolve(output, dotted)
        except KeyError:
            missing.append(dotted)
    assert not missing, f"output {output!r} lacks {missing}"


@step(r"the workflow output should have a '([^']+)' property with value:")
async def then_property_equals(world: World, match: re.Match[str], doc: str | None) -> None:
    output, expected = completed_output(world), parse_yaml(doc)
    try:
        actual = resolve(output, match[1])
    except KeyError:
        pytest.fail(f"output {output!r} lacks {match[1]!r}", pytrace=False)
    assert json_equal(actual, expected), f"{match[1]} is {actual!r}, expected {expected!r}"


@step(r"the workflow output should have a '([^']+)' property containing (\d+) items?")
async def then_property_has_items(world: World, match: re.Match[str], doc: str | None) -> None:
    output = completed_output(world)
    try:
        actual = resolve(output, match[1])
    except KeyError:
        pytest.fail(f"output {output!r} lacks {match[1]!r}", pytrace=False)
    assert isinstance(actual, list), f"{match[1]} is {actual!r}, not an array"
    assert len(actual) == int(match[2]), f"{match[1]} is {actual!r}"


# --- then: task order ------------------------------------------------------------


def _task_name(pointer: str) -> str:
    # The last reference token, unescaped per RFC 6901.
    return pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")


def _is_top_level(pointer: str) -> bool:
    return re.fullmatch(r"/do/\d+/[^/]+", pointer) is not None


def _task_events(world: World, kind: str, top_level: bool = False) -> list[tuple[int, str]]:
    """``(position in the event stream, task name)`` for every task event of a kind."""
    return [
        (position, _task_name(event["data"]["task"]))
        for position, event in enumerate(world.events)
        if event["type"] == kind and (not top_level or _is_top_level(event["data"]["task"]))
    ]


def _first(world: World, kind: str, name: str) -> int:
    positions = [position for position, task in _task_events(world, kind) if task == name]
    if not positions:
        pytest.fail(f"no {kind} event for task {name!r}", pytrace=False)
    return positions[0]


@step(r"(\S+) should run first")
async def then_runs_first(world: World, match: re.Match[str], doc: str | None) -> None:
    started = [task for _, task in _task_events(world, TASK_STARTED, top_level=True)]
    assert started, "no top-level task started"
    assert started[0] == match[1], f"top-level tasks started in order {started}"


@step(r"(\S+) should run last")
async def then_runs_last(world: World, match: re.Match[str], doc: str | None) -> None:
    completed = [task for _, task in _task_events(world, TASK_COMPLETED, top_level=True)]
    assert completed, "no top-level task completed"
    assert completed[-1] == match[1], f"top-level tasks completed in order {completed}"


@step(r"(\S+) should run after (\S+)")
async def then_runs_after(world: World, match: re.Match[str], doc: str | None) -> None:
    later, earlier = match[1], match[2]
    started, completed = _first(world, TASK_STARTED, later), _first(world, TASK_COMPLETED, earlier)
    assert started > completed, f"{later} started before {earlier} completed"


@step(r"(\S+) should run before (\S+)")
async def then_runs_before(world: World, match: re.Match[str], doc: str | None) -> None:
    earlier, later = match[1], match[2]
    completed, started = _first(world, TASK_COMPLETED, earlier), _first(world, TASK_STARTED, later)
    assert completed < started, f"{earlier} did not complete before {later} started"
