"""``--log-format json``: one JSON object per line, carrying the instance, the
workflow and the task it was logged in, taken from the context it was logged
in (no log call passes them)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from podium import Runtime
from podium.engine.scope import WORKING_ON
from podium.telemetry import Telemetry
from podium.telemetry.logs import JsonFormatter
from tests.telemetry.conftest import Spans, document

CAUGHT = document("caught", """\
  - first:
      set: {step: 1}
  - guarded:
      try:
        - fail:
            raise:
              error: {type: https://example.com/oops, status: 400, title: Oops, detail: no luck}
      catch:
        errors: {with: {status: 400}}
        retry: {delay: PT0S, limit: {attempt: {count: 1}}}
""")


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def json_lines(request: pytest.FixtureRequest) -> Iterator[Lines]:
    """Podium's log lines (INFO and above) as JSON, captured."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(trace_ids=getattr(request, "param", False)))
    logger = logging.getLogger("podium")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield Lines(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_task_lines_carry_the_instance_the_workflow_and_the_task(json_lines: Lines) -> None:
    async with Runtime() as runtime:
        Telemetry().attach(runtime)
        execution = await runtime.execute(CAUGHT)
    assert execution.status == "completed"
    faults = [line for line in json_lines.parsed() if line["logger"] == "podium.tasks"]
    common = {"level": "info", "logger": "podium.tasks", "instance_id": execution.id,
              "workflow": "test/caught"}
    assert [{key: value for key, value in line.items() if key != "time"} for line in faults] == [
        {**common, "task": "/do/1/guarded/try/0/fail", "position": "/do/1/guarded@0/try/0/fail",
         "message": "task /do/1/guarded/try/0/fail faulted: Oops: no luck"},
        {**common, "task": "/do/1/guarded", "position": "/do/1/guarded",
         "message": "task /do/1/guarded is retried"},
        {**common, "task": "/do/1/guarded/try/0/fail", "position": "/do/1/guarded@1/try/0/fail",
         "message": "task /do/1/guarded/try/0/fail faulted: Oops: no luck"},
    ]
    assert all(line["time"].endswith("Z") for line in faults)


def test_lines_outside_instances_carry_no_instance(json_lines: Lines) -> None:
    log = logging.getLogger("podium.test")
    log.warning("plain %s", "line")
    token = WORKING_ON.set(("01abc", "test/claimed"))
    try:
        log.info("claimed")
    finally:
        WORKING_ON.reset(token)
    log.info("named", extra={"task": "/do/0/x"})
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("failed")
    plain, claimed, named, failed = json_lines.parsed()
    assert {k: v for k, v in plain.items() if k != "time"} == {
        "level": "warning", "logger": "podium.test", "message": "plain line"}
    assert (claimed["instance_id"], claimed["workflow"]) == ("01abc", "test/claimed")
    assert "task" not in claimed and named["task"] == "/do/0/x"
    assert failed["level"] == "error" and "ValueError: broken" in failed["exception"]


@pytest.mark.parametrize("json_lines", [True], indirect=True)
async def test_while_tracing_lines_carry_the_span(json_lines: Lines, spans: Spans) -> None:
    async with Runtime() as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        await runtime.execute(CAUGHT)
    faulted = [line for line in json_lines.parsed() if "faulted" in line["message"]]
    fails = spans.named("/do/1/guarded/try/0/fail")
    assert len(faulted) == len(fails) == 2
    for line, span in zip(faulted, fails, strict=True):
        assert line["trace_id"] == f"{span.context.trace_id:032x}"
        assert line["span_id"] == f"{span.context.span_id:016x}"


async def test_a_secret_in_a_fault_is_not_logged(json_lines: Lines) -> None:
    leaky = """\
document: {dsl: '1.0.3', namespace: test, name: leaky, version: '1.0.0'}
use:
  secrets: [apiKey]
do:
  - fail:
      raise:
        error:
          type: https://example.com/oops
          status: 400
          detail: ${ "the key was " + $secrets.apiKey }
"""
    async with Runtime(secrets={"apiKey": "s3cr3t-value-42"}) as runtime:
        Telemetry().attach(runtime)
        assert (await runtime.execute(leaky)).status == "faulted"
    text = json_lines.stream.getvalue()
    assert "s3cr3t-value-42" not in text
    [line] = [line for line in json_lines.parsed() if line["logger"] == "podium.tasks"]
    assert line["message"] == "task /do/0/fail faulted: Bad Request: the key was ***"
