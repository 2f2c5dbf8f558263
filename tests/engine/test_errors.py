"""Standard error types and their aliases (dsl-reference "Standard Error Types"):
the 1.0 URIs, the pre-1.0 drafts' and those of the renamed specification."""

from __future__ import annotations

import pytest

from podium import WorkflowError
from podium.engine.errors import SPEC_ERRORS, canonical_type
from tests.engine.harness import run

KINDS = ["configuration", "validation", "expression", "authentication", "authorization",
         "timeout", "communication", "runtime"]
ALIASES = {
    "pre-1.0": "https://serverlessworkflow.io/dsl/errors/types/",
    "open-workflow": "https://open-workflow-specification.org/spec/1.0.0/errors/",
}


@pytest.mark.parametrize("prefix", ALIASES.values(), ids=ALIASES.keys())
@pytest.mark.parametrize("kind", KINDS)
def test_an_alias_of_a_standard_type_is_that_type(prefix: str, kind: str) -> None:
    assert canonical_type(prefix + kind) == SPEC_ERRORS + kind


@pytest.mark.parametrize(
    "error_type",
    [
        SPEC_ERRORS + "timeout",
        "https://example.com/errors/timeout",
        # Not a standard kind: a type of its own, under whichever prefix.
        ALIASES["open-workflow"] + "compliance",
        ALIASES["pre-1.0"] + "compliance",
        # Another version of the renamed specification is not the 1.0 one.
        "https://open-workflow-specification.org/spec/2.0.0/errors/timeout",
    ],
)
def test_other_types_are_their_own(error_type: str) -> None:
    assert canonical_type(error_type) == error_type


@pytest.mark.parametrize("prefix", ALIASES.values(), ids=ALIASES.keys())
def test_an_alias_gets_the_standard_status_and_title(prefix: str) -> None:
    error = WorkflowError(prefix + "authorization")
    assert (error.status, error.title) == (403, "Authorization Error")
    assert error.type == prefix + "authorization"  # kept as given


CAUGHT_BY_THE_1_0_TYPE = f"""
do:
  - guarded:
      try:
        - fail:
            raise:
              error:
                type: {ALIASES["open-workflow"]}timeout
                status: 408
      catch:
        errors:
          with:
            type: {SPEC_ERRORS}timeout
        as: e
        do:
          - recover:
              set:
                caught: ${{ $e.type }}
"""


async def test_a_filter_of_the_1_0_type_catches_an_error_raised_with_an_alias() -> None:
    assert await run(CAUGHT_BY_THE_1_0_TYPE) == {
        "caught": ALIASES["open-workflow"] + "timeout"
    }
