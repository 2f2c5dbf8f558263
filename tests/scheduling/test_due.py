"""``next_due``: when each kind of schedule fires next, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from podium.scheduling import first_due, next_due, schedule_kind

T0 = datetime(2026, 3, 28, 23, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(("every", "seconds"), [
    ("PT1S", 1), ("PT15M", 900), ("P1DT2H", 93600), ("PT0.5S", 1),  # at least a second
    ({"minutes": 2, "seconds": 30}, 150), ({"milliseconds": 2500}, 2.5),
])
def test_every_adds_the_interval(every: object, seconds: float) -> None:
    assert next_due("every", {"every": every}, T0) == T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(("cron", "after", "due"), [
    ("0 2 * * *", T0, datetime(2026, 3, 29, 2, 0, tzinfo=UTC)),
    # 2026-03-29 is a daylight saving change in Europe: UTC has none, 02:00 exists.
    ("30 2 * * *", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 2, 30,
                                                                      tzinfo=UTC)),
    ("*/15 * * * *", T0, datetime(2026, 3, 28, 23, 45, tzinfo=UTC)),
    ("0 0 1 * *", T0, datetime(2026, 4, 1, tzinfo=UTC)),
    ("0 9 * * 1", T0, datetime(2026, 3, 30, 9, 0, tzinfo=UTC)),  # the next Monday
    ("@hourly", T0, datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),
    # Strictly after: a due time exactly on the expression moves on.
    ("0 2 * * *", datetime(2026, 3, 29, 2, 0, tzinfo=UTC), datetime(2026, 3, 30, 2, 0,
                                                                      tzinfo=UTC)),
])
def test_cron_is_read_in_utc(cron: str, after: datetime, due: datetime) -> None:
    found = next_due("cron", {"cron": cron}, after)
    assert found == due
    assert found is not None and found.utcoffset() == timedelta(0)


def test_cron_reads_a_time_given_in_another_zone_as_the_same_instant() -> None:
    paris = timezone(timedelta(hours=2))
    after = datetime(2026, 7, 1, 3, 30, tzinfo=paris)  # 01:30 UTC
    assert next_due("cron", {"cron": "0 2 * * *"}, after) == datetime(2026, 7, 1, 2, 0,
                                                                       tzinfo=UTC)


def test_after_counts_from_when_the_previous_instance_ended() -> None:
    ended = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert next_due("after", {"after": "PT10M"}, ended) == ended + timedelta(minutes=10)
    assert next_due("after", {"after": {"hours": 1}}, ended) == ended + timedelta(hours=1)


def test_on_has_no_due_time() -> None:
    spec = {"on": {"one": {"with": {"type": "com.example.alert"}}}}
    assert next_due("on", spec, T0) is None
    assert first_due("on", spec, T0) is None


def test_first_due_after_a_deploy() -> None:
    assert first_due("after", {"after": "PT1H"}, T0) == T0  # no previous run: at once
    assert first_due("every", {"every": "PT1H"}, T0) == T0 + timedelta(hours=1)
    assert first_due("cron", {"cron": "0 2 * * *"}, T0) == datetime(2026, 3, 29, 2, 0,
                                                                     tzinfo=UTC)


def test_kind_of_a_schedule_block() -> None:
    assert schedule_kind({"cron": "0 2 * * *"}) == "cron"
    assert schedule_kind({"on": {"any": []}}) == "on"
    with pytest.raises(ValueError, match="one of 'every', 'cron', 'after' or 'on'"):
        schedule_kind({})
