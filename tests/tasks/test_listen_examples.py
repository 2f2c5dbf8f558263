"""The specification's `listen` examples, run as written: the events they wait for
are published in the process, and the listen task completes with them (what
follows, calls to hosts that do not exist here, is not the point: the run is
cancelled once the listener is done)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podium import Runtime
from tests.support.fake_services import FakeServices
from tests.support.spec import SPEC_DIR

EXAMPLES = SPEC_DIR / "examples"


def event(type_: str, data: Any = None, **attributes: Any) -> dict[str, Any]:
    event.count += 1  # type: ignore[attr-defined]
    return {"specversion": "1.0", "id": f"x{event.count}",  # type: ignore[attr-defined]
            "source": "tests", "type": type_, "data": data, **attributes}


event.count = 0  # type: ignore[attr-defined]

TEMPERATURE = "com.fake-hospital.vitals.measurements.temperature"
BPM = "com.fake-hospital.vitals.measurements.bpm"

CASES = {
    "listen-to-one.yaml": (
        [event("com.virtual-wf-powered-race.events.race.started.v1", {"race": 1})],
        [{"race": 1}],
    ),
    "listen-to-any.yaml": ([event("anything", 7)], [7]),
    "listen-to-any-filter.yaml": (
        [event(TEMPERATURE, {"temperature": 37}), event(BPM, {"bpm": 50})],
        [{"bpm": 50}],
    ),
    "listen-to-all.yaml": (
        [event(BPM, {"bpm": 120}), event(TEMPERATURE, {"temperature": 39})],
        [{"bpm": 120}, {"temperature": 39}],
    ),
    "listen-to-any-until-condition.yaml": (
        [event("t", n) for n in range(5)],
        [0, 1, 2, 3],
    ),
    "listen-to-any-until-consumed.yaml": (
        [event(TEMPERATURE, {"temperature": 40}),
         event("com.fake-hospital.patient.checked-out", {}),
         event(BPM, {"bpm": 30})],
        [{"temperature": 40}],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_spec_listen_example(name: str) -> None:
    events, expected = CASES[name]
    completed: list[dict[str, Any]] = []

    def listener(cloud_event: dict[str, Any]) -> None:
        if cloud_event["type"] == "io.serverlessworkflow.task.completed.v1" \
                and cloud_event["data"]["task"].count("/") == 3:
            completed.append(cloud_event["data"])

    async with Runtime(listeners=[listener]) as runtime:
        handle = await runtime.start((EXAMPLES / name).read_text())
        for _ in range(200):
            if handle.status == "waiting":
                break
            await asyncio.sleep(0.01)
        for sent in events:
            await runtime.publish_event(sent)
        for _ in range(200):
            if completed:
                break
            await asyncio.sleep(0.01)
        handle.cancel()
        assert completed, f"the listen task of {name} did not complete"
        assert completed[0]["output"] == expected


async def test_forever_foreach_example_handles_each_event_until_cancelled(
    fake_services: FakeServices,
) -> None:
    started: list[str] = []

    def listener(cloud_event: dict[str, Any]) -> None:
        if cloud_event["type"] == "io.serverlessworkflow.task.started.v1":
            started.append(cloud_event["data"]["task"])

    text = (EXAMPLES / "listen-to-any-forever-foreach.yaml").read_text().replace(
        "https://fake-chat-api.com", f"{fake_services.url}/httpbin/anything")
    async with Runtime(listeners=[listener]) as runtime:
        handle = await runtime.start(text)
        for _ in range(200):
            if handle.status == "waiting":
                break
            await asyncio.sleep(0.01)
        for n in range(3):
            await runtime.publish_event(event("gossip", n))
        for _ in range(300):
            if len([t for t in started if t.endswith("/postToChatApi")]) == 3:
                break
            await asyncio.sleep(0.01)
        assert len([t for t in started if t.endswith("/postToChatApi")]) == 3
        assert handle.status != "completed"
        handle.cancel()
