"""The official Serverless Workflow CTK, one pytest case per Gherkin scenario."""

from __future__ import annotations

import pytest

from tests.ctk.features import Scenario, load_scenarios
from tests.ctk.steps import World, run_step
from tests.support.fake_services import FakeServices

# Known gaps, by case id; every entry states why it is skipped.
SKIP: dict[str, str] = {}

SCENARIOS = load_scenarios()


def _cases() -> list[object]:
    return [
        pytest.param(
            scenario,
            id=scenario.id,
            marks=[pytest.mark.skip(reason=SKIP[scenario.id])] if scenario.id in SKIP else [],
        )
        for scenario in SCENARIOS
    ]


def test_skip_list_names_real_scenarios() -> None:
    # A renamed scenario must not leave a stale skip that silently hides nothing.
    assert set(SKIP) <= {scenario.id for scenario in SCENARIOS}


@pytest.mark.parametrize("scenario", _cases())
async def test_scenario(scenario: Scenario, fake_services: FakeServices) -> None:
    world = World(services_url=fake_services.url)
    for step in scenario.steps:
        await run_step(world, step)
