"""A task's `if` (dsl-reference "Task"): a skipped task outputs its raw input."""

from __future__ import annotations

from tests.engine.harness import execute, of_type, run


async def test_task_runs_when_the_condition_holds() -> None:
    body = """
    do:
      - maybe:
          if: ${ .go }
          set: {ran: true}
    """
    assert await run(body, {"go": True}) == {"ran": True}


async def test_skipped_task_outputs_its_raw_input() -> None:
    body = """
    do:
      - maybe:
          if: ${ .go }
          input:
            from: .inner
          set: {ran: true}
          output:
            as: '${ {transformed: .} }'
          export:
            as: '${ {exported: true} }'
      - next:
          set:
            received: ${ . }
            context: ${ $context }
    """
    raw = {"go": False, "inner": {"x": 1}}
    # Neither input.from, output.as nor export.as apply to a skipped task.
    assert await run(body, raw) == {"received": raw, "context": raw}


async def test_if_is_evaluated_on_the_raw_input_before_input_from() -> None:
    body = """
    do:
      - maybe:
          if: ${ .flag }
          input:
            from: .inner
          set: {value: '${ .value }'}
    """
    assert await run(body, {"flag": True, "inner": {"value": 3}}) == {"value": 3}


async def test_if_sees_context_task_and_workflow() -> None:
    body = """
    do:
      - save:
          set: {token: t}
          export:
            as: .
      - maybe:
          if: >-
            ${ $context.token == "t" and $task.name == "maybe"
               and $workflow.input.go and $runtime.name == "podium" }
          set: {ran: true}
    """
    assert await run(body, {"go": True}) == {"ran": True}


async def test_jq_truthiness_null_skips_and_non_boolean_values_run() -> None:
    body = """
    do:
      - nullSkips:
          if: ${ .missing }
          set: {a: 1}
      - stringRuns:
          if: ${ "yes" }
          set: {b: '${ . }'}
    """
    assert await run(body, {"start": 0}) == {"b": {"start": 0}}


async def test_skipped_task_does_not_start() -> None:
    body = """
    do:
      - maybe:
          if: ${ false }
          wait: PT10S
    """
    execution, events = await execute(body, {"x": 1})
    assert execution.output == {"x": 1}
    assert "/do/0/maybe" not in [e["data"]["task"] for e in of_type(events, "task.started")]


async def test_skipped_task_does_not_validate_its_input_schema() -> None:
    # dsl.md "Data Flow": `if` comes before the input schema.
    body = """
    do:
      - maybe:
          if: ${ .go }
          input:
            schema:
              format: json
              document: {type: object, required: [needed]}
          set: {ran: true}
    """
    assert await run(body, {"go": False}) == {"go": False}
