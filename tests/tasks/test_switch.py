"""`switch` (dsl-reference "Switch", "Switch Case", "Flow Directive")."""

from __future__ import annotations

import pytest

from tests.engine.harness import run

ORDERS = """
do:
  - processOrder:
      switch:
        - case1:
            when: .orderType == "electronic"
            then: processElectronicOrder
        - case2:
            when: .orderType == "physical"
            then: processPhysicalOrder
        - default:
            then: handleUnknownOrderType
  - processElectronicOrder:
      set: {handled: electronic}
      then: exit
  - processPhysicalOrder:
      set: {handled: physical}
      then: exit
  - handleUnknownOrderType:
      set: {handled: unknown}
"""


@pytest.mark.parametrize(
    ("order_type", "handled"),
    [("electronic", "electronic"), ("physical", "physical"), ("digital", "unknown")],
)
async def test_switch_selects_the_matching_case(order_type: str, handled: str) -> None:
    assert await run(ORDERS, {"orderType": order_type}) == {"handled": handled}


async def test_first_matching_case_wins() -> None:
    body = """
    do:
      - pick:
          switch:
            - first:
                when: .n > 1
                then: one
            - second:
                when: .n > 0
                then: two
      - one:
          set: {picked: one}
          then: end
      - two:
          set: {picked: two}
    """
    assert await run(body, {"n": 5}) == {"picked": "one"}


async def test_default_case_applies_only_when_nothing_matches_wherever_it_is() -> None:
    body = """
    do:
      - pick:
          switch:
            - fallback:
                then: other
            - match:
                when: .n == 1
                then: matched
      - other:
          set: {picked: default}
          then: end
      - matched:
          set: {picked: match}
    """
    assert await run(body, {"n": 1}) == {"picked": "match"}
    assert await run(body, {"n": 2}) == {"picked": "default"}


async def test_without_match_or_default_the_switch_continues() -> None:
    body = """
    do:
      - pick:
          switch:
            - never:
                when: .n == 0
                then: end
      - next:
          set:
            reached: true
            n: ${ .n }
    """
    assert await run(body, {"n": 1}) == {"reached": True, "n": 1}


async def test_switch_output_is_its_input() -> None:
    body = """
    do:
      - pick:
          switch:
            - always:
                when: "true"
                then: end
    """
    assert await run(body, {"unchanged": [1, 2]}) == {"unchanged": [1, 2]}


async def test_case_then_end_ends_the_workflow_from_a_nested_scope() -> None:
    body = """
    do:
      - outer:
          do:
            - pick:
                switch:
                  - stop:
                      when: .stop
                      then: end
            - inner:
                set: {inner: true}
      - after:
          set: {after: true}
    """
    assert await run(body, {"stop": True}) == {"stop": True}
    assert await run(body, {"stop": False}) == {"after": True}


async def test_case_then_exit_leaves_only_the_current_scope() -> None:
    body = """
    do:
      - outer:
          do:
            - pick:
                switch:
                  - leave:
                      when: .leave
                      then: exit
            - inner:
                set: {inner: true}
      - after:
          set:
            after: true
            previous: ${ . }
    """
    assert await run(body, {"leave": True}) == {"after": True, "previous": {"leave": True}}
    assert await run(body, {"leave": False}) == {"after": True, "previous": {"inner": True}}


async def test_case_then_continue_goes_to_the_next_task() -> None:
    body = """
    do:
      - pick:
          switch:
            - go:
                when: "true"
                then: continue
      - next:
          set: {next: true}
    """
    assert await run(body) == {"next": True}


async def test_when_sees_the_transformed_input() -> None:
    body = """
    do:
      - pick:
          input:
            from: .inner
          switch:
            - hit:
                when: .flag
                then: yes
            - miss:
                then: no
      - yes:
          set: {branch: yes}
          then: end
      - no:
          set: {branch: no}
    """
    assert await run(body, {"inner": {"flag": True}, "flag": False}) == {"branch": "yes"}
