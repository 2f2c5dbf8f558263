"""Literal durations (issue 7, item 3): longer than MAX_DURATION_SECONDS (100 years)
they are refused at load, wherever the DSL takes a duration. Before,
``timeout: {after: P99999999999999D}`` and ``wait: {days: 1000000000}`` loaded and
then crashed the run with ``OverflowError``."""

from __future__ import annotations

from typing import Any

import pytest

from podium.dsl import load, validate
from podium.dsl.durations import inline_seconds, iso_seconds
from podium.dsl.model import DurationInline
from podium.limits import MAX_DURATION_SECONDS
from tests.dsl.samples import ONE_STEP, TASKS, with_task

HUGE_ISO = "P99999999999999D"
HUGE_INLINE = {"days": 1_000_000_000}

# Every place a document states a duration: where it goes in the document, and
# the pointer the problem names.
PLACES: dict[str, tuple[Any, str]] = {
    "wait": (lambda d: with_task({"wait": d}), "/do/0/t/wait"),
    "task-timeout": (lambda d: with_task({**TASKS["set"], "timeout": {"after": d}}),
                     "/do/0/t/timeout/after"),
    "workflow-timeout": (lambda d: with_task(TASKS["set"], timeout={"after": d}),
                         "/timeout/after"),
    "use-timeouts": (
        lambda d: with_task(TASKS["set"], use={"timeouts": {"long": {"after": d}}}),
        "/use/timeouts/long/after",
    ),
    "retry-delay": (
        lambda d: with_task({"try": ONE_STEP, "catch": {"retry": {"delay": d}}}),
        "/do/0/t/catch/retry/delay",
    ),
    "retry-limit": (
        lambda d: with_task({"try": ONE_STEP, "catch": {"retry": {"limit": {"duration": d}}}}),
        "/do/0/t/catch/retry/limit/duration",
    ),
    "retry-attempt-limit": (
        lambda d: with_task(
            {"try": ONE_STEP, "catch": {"retry": {"limit": {"attempt": {"duration": d}}}}}
        ),
        "/do/0/t/catch/retry/limit/attempt/duration",
    ),
    "retry-jitter": (
        lambda d: with_task(
            {"try": ONE_STEP, "catch": {"retry": {"jitter": {"from": "PT1S", "to": d}}}}
        ),
        "/do/0/t/catch/retry/jitter/to",
    ),
    "use-retries": (
        lambda d: with_task(TASKS["set"], use={"retries": {"slow": {"delay": d}}}),
        "/use/retries/slow/delay",
    ),
    "schedule-every": (lambda d: with_task(TASKS["set"], schedule={"every": d}),
                       "/schedule/every"),
    "schedule-after": (lambda d: with_task(TASKS["set"], schedule={"after": d}),
                       "/schedule/after"),
    "container-lifetime": (
        lambda d: with_task({"run": {"container": {
            "image": "alpine", "lifetime": {"cleanup": "eventually", "after": d}}}}),
        "/do/0/t/run/container/lifetime/after",
    ),
}


@pytest.mark.parametrize("duration", [HUGE_ISO, HUGE_INLINE], ids=["iso", "inline"])
@pytest.mark.parametrize(("place", "pointer"), PLACES.values(), ids=PLACES.keys())
def test_a_literal_duration_over_100_years_is_refused(
    place: Any, pointer: str, duration: Any
) -> None:
    [problem] = validate(place(duration))
    written = HUGE_ISO if isinstance(duration, str) else "{days: 1000000000}"
    assert (problem.pointer, problem.message) == (
        pointer, f"{written} is longer than 100 years, the longest duration allowed"
    )


@pytest.mark.parametrize(
    "duration",
    ["P36500D", "P100Y", {"days": 36500}, {"milliseconds": int(MAX_DURATION_SECONDS * 1000)},
     "${ .delay }", "PT0.5S"],
    ids=["days", "years", "inline-days", "inline-milliseconds", "expression", "short"],
)
@pytest.mark.parametrize(("place", "pointer"), PLACES.values(), ids=PLACES.keys())
def test_durations_up_to_100_years_and_expressions_load(
    place: Any, pointer: str, duration: Any
) -> None:
    assert validate(place(duration)) == []


@pytest.mark.parametrize(
    ("duration", "written"),
    [("P36501D", "P36501D"), ("PT3153600001S", "PT3153600001S"), ("P1" + "0" * 400 + "Y",
                                                                   "P1" + "0" * 400 + "Y"),
     ({"days": 36500, "milliseconds": 1}, "{days: 36500, milliseconds: 1}"),
     ({"seconds": 10**400}, "{seconds: 10000000...(401 digits)}"),
     ({"hours": 10**10, "minutes": -1}, "{hours: 10000000000, minutes: -1}")],
    ids=["a-day-too-many", "seconds", "400-digits", "a-millisecond-too-many", "10e400",
         "mixed"],
)
def test_the_limit_is_exact_and_any_size_of_number_is_refused_cleanly(
    duration: Any, written: str
) -> None:
    [problem] = validate(with_task({"wait": duration}))
    assert problem.message == f"{written} is longer than 100 years, the longest duration allowed"


def test_a_huge_duration_in_yaml_is_refused_at_its_line() -> None:
    text = (
        "document: {dsl: '1.0.3', namespace: t, name: d, version: '0.1.0'}\n"
        "do:\n  - t:\n      timeout: {after: P99999999999999D}\n      wait: {days: 1000000000}\n"
    )
    assert [str(p) for p in validate(text, "d.yaml")] == [
        "d.yaml:4:17: /do/0/t/timeout/after: P99999999999999D is longer than 100 years, "
        "the longest duration allowed",
        "d.yaml:5:7: /do/0/t/wait: {days: 1000000000} is longer than 100 years, "
        "the longest duration allowed",
    ]


def test_seconds_of_the_longest_durations() -> None:
    assert iso_seconds("P36500D") == MAX_DURATION_SECONDS
    wait = load(with_task({"wait": {"days": 36500}})).model.do[0]["t"]
    assert isinstance(wait.wait, DurationInline)  # type: ignore[union-attr]
    assert inline_seconds(wait.wait) == MAX_DURATION_SECONDS  # type: ignore[union-attr]
    # Built in Python code, past what a document may state: saturates, never overflows.
    assert inline_seconds(DurationInline.model_construct(days=10**400)) == float("inf")
