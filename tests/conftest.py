from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_services import FakeServices


@pytest.fixture(scope="session")
def fake_services() -> Iterator[FakeServices]:
    """Petstore and httpbin stand-ins, shared by the whole session.

    Tests asserting on ``hits`` or ``requests`` call ``fake_services.reset()`` first.
    """
    with FakeServices() as services:
        yield services
