"""``--events`` / ``PODIUM_EVENTS``: the NATS server of ``podium worker``."""

from __future__ import annotations

import pytest

from podium.config import Settings


def test_podium_events_from_the_environment() -> None:
    assert Settings.from_env({}).events is None
    assert Settings.from_env({"PODIUM_EVENTS": "nats://127.0.0.1:4222"}).events == (
        "nats://127.0.0.1:4222"
    )
    with pytest.raises(ValueError, match="PODIUM_EVENTS: 'http://x' is not a NATS URL"):
        Settings.from_env({"PODIUM_EVENTS": "http://x"})
