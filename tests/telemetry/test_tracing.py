"""OpenTelemetry spans (in-memory exporter): one per run of an instance, one per
task execution nested as the tasks are; the W3C ``traceparent`` of a start
request or a CloudEvent is the parent of every run of the instance it starts,
replays included; outgoing HTTP requests carry the current task's span."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from podium import Runtime, tracecontext
from podium.server import ServerSettings, create_app
from podium.store import Store
from podium.telemetry import Telemetry
from tests.durability.helpers import ended, eventually, runtime_on, working
from tests.scheduling.support import scheduled
from tests.telemetry.conftest import Recorder, Spans, attributes, document

# A caller's trace context: trace 4bf9..., its span 00f0...
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN}-01"

NESTED = document("nested", """\
  - first:
      set: {step: 1}
  - group:
      do:
        - inner:
            set: {step: 2}
  - fail:
      raise:
        error: {type: https://example.com/oops, status: 400, title: Oops}
""")


async def test_a_run_and_its_tasks_are_spans_nested_as_the_tasks_are(spans: Spans) -> None:
    async with Runtime() as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        execution = await runtime.execute(NESTED)
    assert execution.status == "faulted"
    run = spans.one("workflow test/nested")
    first, group = spans.one("/do/0/first"), spans.one("/do/1/group")
    inner, fail = spans.one("/do/1/group/do/0/inner"), spans.one("/do/2/fail")
    assert run.parent is None  # started without a trace context: a trace of its own
    assert attributes(run) == {
        "podium.instance.id": execution.id, "podium.workflow": "test/nested",
        "podium.workflow.version": "1.0.0", "podium.instance.resumed": False,
        "podium.status": "faulted", "podium.error.type": "https://example.com/oops",
    }
    assert run.status.status_code.name == "ERROR" and run.status.description == "Oops"
    run_id = run.context.span_id
    for span in (first, group, fail):
        assert span.parent is not None and span.parent.span_id == run_id
        assert span.context.trace_id == run.context.trace_id
    assert inner.parent is not None and inner.parent.span_id == group.context.span_id
    assert attributes(inner) == {
        "podium.instance.id": execution.id,
        "podium.task.position": "/do/1/group/do/0/inner", "podium.task.kind": "set",
        "podium.status": "completed",
    }
    assert attributes(fail)["podium.status"] == "faulted"
    assert fail.status.status_code.name == "ERROR"
    assert attributes(group)["podium.task.kind"] == "do"


async def test_an_in_memory_subflow_runs_under_the_task_that_started_it(spans: Spans) -> None:
    child = document("child", "  - greet:\n      set: {hello: true}\n")
    parent = document("parent", """\
  - callChild:
      run:
        workflow: {namespace: test, name: child, version: '1.0.0'}
""")
    async with Runtime() as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        await runtime.deploy(child)
        assert (await runtime.execute(parent)).status == "completed"
    calling = spans.one("/do/0/callChild")
    child_run = spans.one("workflow test/child")
    assert child_run.parent is not None and child_run.parent.span_id == calling.context.span_id
    assert child_run.context.trace_id == spans.one("workflow test/parent").context.trace_id


# trace context from whoever starts the instance ------------------------------------------

PAUSE = document("pause", """\
  - before:
      set: {step: 1}
  - pause:
      wait: PT1S
  - after:
      set: {done: true}
""")


async def test_every_run_of_an_instance_continues_the_trace_it_was_started_in(
    store_url: str, store: Store, spans: Spans
) -> None:
    async with runtime_on(store_url, "w1") as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        definition = await runtime.registry.get(*await _deploy(runtime, PAUSE))
        with tracecontext.incoming(TRACEPARENT):
            record, _ = await runtime.create_instance(definition, {})
        assert record.trace_parent == TRACEPARENT
        assert (await store.get_instance(record.id)).trace_parent == TRACEPARENT  # type: ignore[union-attr]
        # The wait parks the instance out of memory: a second run replays it.
        async with working(runtime, park_after=0.2):
            assert (await ended(store, record.id)).status == "completed"
    runs = spans.named("workflow test/pause")
    assert [attributes(run)["podium.instance.resumed"] for run in runs] == [False, True]
    assert [attributes(run)["podium.status"] for run in runs] == ["waiting", "completed"]
    for run in runs:
        assert run.parent is not None and run.parent.is_remote
        assert f"{run.parent.span_id:016x}" == PARENT_SPAN
        assert f"{run.context.trace_id:032x}" == TRACE_ID
    # The wait that parked ends with the first run; the second run finishes it.
    waits = spans.named("/do/1/pause")
    assert [attributes(wait)["podium.status"] for wait in waits] == ["waiting", "completed"]
    assert attributes(waits[1])["podium.task.resumed"] is True
    assert [span.parent.span_id for span in waits if span.parent] == [
        run.context.span_id for run in runs]


async def _deploy(runtime: Runtime, text: str) -> tuple[str, str, str]:
    record = await runtime.deploy(text)
    return record.namespace, record.name, record.version


async def test_a_start_request_s_traceparent_is_stored_with_the_instance(
    store_url: str, store: Store
) -> None:
    async with runtime_on(store_url, "api") as runtime:
        app = create_app(runtime, ServerSettings(store_url=store_url))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://testserver/api/v1") as api:
            assert (await api.post("/definitions", content=PAUSE)).status_code == 201
            traced = await api.post("/instances", json={"workflow": "test/pause"},
                                    headers={"traceparent": TRACEPARENT})
            untraced = await api.post("/instances", json={"workflow": "test/pause"})
            garbled = await api.post("/instances", json={"workflow": "test/pause"},
                                     headers={"traceparent": "00-not-a-trace-01"})
    stored = [await store.get_instance(response.json()["id"])
              for response in (traced, untraced, garbled)]
    assert [record.trace_parent if record else "?" for record in stored] == [
        TRACEPARENT, None, None]


ALERT = {"on": {"one": {"with": {"type": "com.example.alert"}}}}


async def test_a_cloudevent_s_traceparent_is_the_parent_of_the_instance_it_starts(
    store_url: str, store: Store, spans: Spans
) -> None:
    async with runtime_on(store_url, "w1") as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        await runtime.deploy(scheduled(ALERT))
        async with working(runtime):
            await runtime.publish_event({
                "specversion": "1.0", "id": "a1", "source": "https://monitor.example",
                "type": "com.example.alert", "traceparent": TRACEPARENT, "data": {},
            })

            async def started() -> Any:
                found = [r for r in await store.list_instances() if r.name == "nightly"]
                return found if found and found[0].status == "completed" else None

            [record] = await eventually(started)
    assert record.trace_parent == TRACEPARENT
    run = spans.one("workflow test/nightly")
    assert run.parent is not None and f"{run.parent.span_id:016x}" == PARENT_SPAN


@pytest.mark.parametrize("value, continued", [
    (TRACEPARENT, TRACEPARENT),
    (f" {TRACEPARENT} ", TRACEPARENT),
    (f"01-{TRACE_ID}-{PARENT_SPAN}-01-later", f"00-{TRACE_ID}-{PARENT_SPAN}-01"),
    (f"00-{TRACE_ID}-{PARENT_SPAN}-01-extra", None),  # version 00 has four fields
    (f"ff-{TRACE_ID}-{PARENT_SPAN}-01", None),
    (f"00-{'0' * 32}-{PARENT_SPAN}-01", None),
    (f"00-{TRACE_ID}-{'0' * 16}-01", None),
    (f"00-{TRACE_ID.upper()}-{PARENT_SPAN}-01", None),
    ("garbage", None), (None, None), (42, None),
], ids=["valid", "spaces", "later-version", "extra-field", "version-ff", "zero-trace",
        "zero-span", "upper-case", "garbage", "none", "not-text"])
def test_only_a_valid_traceparent_is_continued(value: object, continued: str | None) -> None:
    assert tracecontext.valid(value) == continued
    with tracecontext.incoming(value):
        assert tracecontext.current() == continued
    assert tracecontext.current() is None


# outgoing HTTP ---------------------------------------------------------------------------

def calling(headers: str = "{}") -> str:
    return document("caller", f"""\
  - prepare:
      set: {{url: '${{ $workflow.input.url }}'}}
  - fetch:
      call: http
      with:
        method: get
        endpoint: '${{ .url }}'
        headers: {headers}
""")


async def test_an_http_call_carries_the_traceparent_of_its_task(
    spans: Spans, recorder: tuple[Recorder, str]
) -> None:
    service, url = recorder
    async with Runtime() as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        assert (await runtime.execute(calling(), {"url": f"{url}/orders"})).status == "completed"
    [received] = service.headers
    fetch = spans.one("/do/1/fetch")
    context = fetch.context
    assert received["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}")
    assert fetch.kind.name == "CLIENT"
    assert attributes(fetch)["http.response.status_code"] == 200
    assert attributes(fetch)["podium.call.protocol"] == "http"
    [sent] = [event for event in fetch.events if event.name == "http.request"]
    assert dict(sent.attributes or {}) == {"http.request.method": "GET",
                                           "url.full": f"{url}/orders"}


async def test_a_traceparent_the_workflow_sets_is_kept(
    spans: Spans, recorder: tuple[Recorder, str]
) -> None:
    service, url = recorder
    own = f"00-{'1' * 32}-{'2' * 16}-01"
    async with Runtime() as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        await runtime.execute(calling(f"{{traceparent: '{own}'}}"), {"url": url})
    assert [headers["traceparent"] for headers in service.headers] == [own]


async def test_without_tracing_no_traceparent_is_sent(recorder: tuple[Recorder, str]) -> None:
    service, url = recorder
    async with Runtime() as runtime:
        Telemetry().attach(runtime)  # metrics only
        await runtime.execute(calling(), {"url": url})
    [received] = service.headers
    assert "traceparent" not in received


async def test_a_started_instance_in_a_span_continues_it(spans: Spans) -> None:
    """A program that traces calls ``Runtime.start`` inside its own span."""
    async with Runtime() as runtime:
        telemetry = Telemetry(tracer_provider=spans.provider).attach(runtime)
        assert telemetry.tracing is not None
        with telemetry.tracing.tracer.start_as_current_span("caller") as caller:
            handle = await runtime.start(NESTED)
        await handle.result()
        await asyncio.sleep(0)
    run = spans.one("workflow test/nested")
    assert run.parent is not None and run.parent.span_id == caller.get_span_context().span_id


BRANCHES = document("branches", """\
  - both:
      fork:
        branches:
          - left:
              wait: PT1S
          - right:
              wait: PT1S
  - after:
      set: {done: true}
""")


async def test_a_replayed_run_nests_its_fork_branches_under_its_own_span(
    store_url: str, store: Store, spans: Spans
) -> None:
    async with runtime_on(store_url, "w1") as runtime:
        Telemetry(tracer_provider=spans.provider).attach(runtime)
        definition = await runtime.registry.get(*await _deploy(runtime, BRANCHES))
        record, _ = await runtime.create_instance(definition, {})
        async with working(runtime, park_after=0.2):
            assert (await ended(store, record.id)).status == "completed"
    first, second = spans.named("workflow test/branches")
    assert attributes(second)["podium.instance.resumed"] is True
    # Both branches' waits finish in the second run, each in a task of its own.
    finished = [span for span in spans.finished()
                if span.context.trace_id == second.context.trace_id
                and span.start_time >= second.start_time and span.name != second.name]
    assert {span.name for span in finished} == {
        "/do/0/both/fork/branches/0/left", "/do/0/both/fork/branches/1/right", "/do/0/both",
        "/do/1/after"}
    for span in finished:
        assert span.parent is not None and span.parent.span_id == second.context.span_id
    assert first.context.trace_id != second.context.trace_id  # no parent: a trace per run
