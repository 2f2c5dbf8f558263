"""dsl.md "Runtime Expressions": the arguments of each stage (the availability
table), the expression error, and the strict/loose evaluation modes."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from podium import __version__
from tests.engine.harness import ERRORS, execute, fault, run

EXPRESSION = ERRORS + "expression"

# --- $context ---------------------------------------------------------------------------


async def test_context_is_available_in_every_task_stage() -> None:
    body = """
    do:
      - save:
          set: {token: t1}
          export:
            as: .
      - read:
          if: ${ $context.token == "t1" }
          input:
            from: '${ {fromInput: $context.token} }'
          set:
            fromInput: ${ .fromInput }
            fromDefinition: ${ $context.token }
          output:
            as: '${ . + {fromOutput: $context.token} }'
          export:
            as: '${ $context + {seen: true} }'
      - check:
          set:
            context: ${ $context }
            previous: ${ . }
    """
    assert await run(body) == {
        "context": {"token": "t1", "seen": True},
        "previous": {"fromInput": "t1", "fromDefinition": "t1", "fromOutput": "t1"},
    }


async def test_context_is_available_in_workflow_output_as() -> None:
    body = """
    do:
      - save:
          set: {token: t1}
          export:
            as: .
      - other:
          set: {x: 1}
    output:
      as: $context
    """
    assert await run(body) == {"token": "t1"}


# --- $input -----------------------------------------------------------------------------


async def test_input_is_the_transformed_task_input() -> None:
    body = """
    do:
      - t:
          input:
            from: .inner
          set:
            inDefinition: ${ $input }
          output:
            as: '${ . + {inOutputAs: $input} }'
          export:
            as: '${ {inExportAs: $input} }'
      - check:
          set:
            previous: ${ . }
            context: ${ $context }
    """
    inner = {"v": 1}
    assert await run(body, {"inner": inner, "outer": 2}) == {
        "previous": {"inDefinition": inner, "inOutputAs": inner},
        "context": {"inExportAs": inner},
    }


# --- $output ----------------------------------------------------------------------------


async def test_output_in_export_as_is_the_transformed_output() -> None:
    body = """
    do:
      - t:
          set: {raw: 1}
          output:
            as: '${ {transformed: .raw} }'
          export:
            as: '${ {exported: $output} }'
      - check:
          set: ${ $context }
    """
    assert await run(body) == {"exported": {"transformed": 1}}


# --- $secrets ---------------------------------------------------------------------------

SECRETS = """
use:
  secrets: [apiKey]
do:
  - t:
      input:
        from: '${ {key: $secrets.apiKey.value} }'
      set:
        fromInput: ${ .key == "s3cr3t" }
        fromDefinition: ${ $secrets.apiKey.value | length }
        declared: ${ $secrets | keys }
        leaked: ${ $secrets.apiKey.value }
"""


async def test_secrets_expose_the_declared_secrets() -> None:
    secrets = {"apiKey": {"value": "s3cr3t"}, "undeclared": "never seen"}
    out = await run(SECRETS, secrets=secrets)
    # Expressions see the values; what leaves the instance has them redacted.
    assert out == {
        "fromInput": True,
        "fromDefinition": 6,
        "declared": ["apiKey"],
        "leaked": "***",
    }


async def test_declared_secret_that_the_runtime_lacks_is_an_authorization_error() -> None:
    error = await fault(SECRETS, secrets={"other": 1})
    assert error.type == ERRORS + "authorization"
    assert error.status == 403


async def test_secrets_in_workflow_input_from() -> None:
    body = """
    use:
      secrets: [apiKey]
    input:
      from: '${ . + {key: $secrets.apiKey} }'
    do:
      - echo:
          set: ${ . }
    """
    assert await run(body, {"a": 1}, secrets={"apiKey": "k"}) == {"a": 1, "key": "k"}


# --- $task ------------------------------------------------------------------------------


async def test_task_descriptor_name_reference_definition_and_raw_input() -> None:
    body = """
    do:
      - tryGetPet:
          try:
            - getPet:
                input:
                  from: .pet
                set:
                  name: ${ $task.name }
                  reference: ${ $task.reference }
                  definition: ${ $task.definition }
                  rawInput: ${ $task.input }
                  transformed: ${ . }
          catch:
            errors:
              with:
                status: 500
    """
    out = await run(body, {"pet": {"id": 1}})
    assert out["name"] == "getPet"
    assert out["reference"] == "/do/0/tryGetPet/try/0/getPet"
    assert out["definition"]["input"] == {"from": ".pet"}
    assert out["definition"]["set"]["name"] == "${ $task.name }"
    assert out["rawInput"] == {"pet": {"id": 1}}
    assert out["transformed"] == {"id": 1}


async def test_task_descriptor_output_in_output_as_is_the_raw_output() -> None:
    body = """
    do:
      - t:
          set: {raw: true}
          output:
            as: '${ {seen: $task.output} }'
    """
    assert await run(body) == {"seen": {"raw": True}}


async def test_task_started_at_descriptor() -> None:
    before = time.time()
    body = """
    do:
      - t:
          set: ${ $task.startedAt }
    """
    started = await run(body)
    after = time.time()
    moment = datetime.fromisoformat(started["iso8601"].replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    assert before - 1 <= moment.timestamp() <= after + 1
    assert isinstance(started["epoch"]["seconds"], int)
    assert isinstance(started["epoch"]["milliseconds"], int)
    assert started["epoch"]["milliseconds"] // 1000 == started["epoch"]["seconds"]
    assert abs(started["epoch"]["seconds"] - moment.timestamp()) <= 1


async def test_task_reference_in_nested_scopes() -> None:
    body = """
    do:
      - outer:
          do:
            - loop:
                for:
                  in: '[1]'
                do:
                  - inner:
                      set:
                        ref: ${ $task.reference }
    """
    assert await run(body) == {"ref": "/do/0/outer/do/0/loop/do/0/inner"}


# --- $workflow --------------------------------------------------------------------------


async def test_workflow_descriptor() -> None:
    body = """
    input:
      from: .narrowed
    do:
      - t:
          set:
            id: ${ $workflow.id }
            name: ${ $workflow.definition.document.name }
            tasks: ${ $workflow.definition.do | length }
            rawInput: ${ $workflow.input }
            input: ${ . }
            startedAt: ${ $workflow.startedAt }
    """
    raw = {"narrowed": {"a": 1}, "extra": 2}
    execution, _ = await execute(body, raw)
    out = execution.output
    assert out["id"] == execution.id
    assert out["name"] == "test"
    assert out["tasks"] == 1
    assert out["rawInput"] == raw
    assert out["input"] == {"a": 1}
    assert set(out["startedAt"]) == {"iso8601", "epoch"}
    assert set(out["startedAt"]["epoch"]) == {"seconds", "milliseconds"}


async def test_workflow_descriptor_in_workflow_input_from_and_output_as() -> None:
    body = """
    input:
      from: '${ {raw: $workflow.input} }'
    do:
      - t:
          set: ${ . }
    output:
      as: '${ . + {name: $workflow.definition.document.name} }'
    """
    assert await run(body, {"x": 1}) == {"raw": {"x": 1}, "name": "test"}


# --- $runtime ---------------------------------------------------------------------------


async def test_runtime_descriptor() -> None:
    body = """
    do:
      - t:
          set: ${ $runtime }
    """
    out = await run(body)
    assert out["name"] == "podium"
    assert out["version"] == __version__
    assert isinstance(out.get("metadata", {}), dict)


# --- arguments a stage does not have --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "instance"),
    [
        pytest.param(
            """
            do:
              - t:
                  if: ${ $input != null }
                  set: {a: 1}
            """,
            "/do/0/t",
            id="input-in-if",
        ),
        pytest.param(
            """
            do:
              - t:
                  input:
                    from: $input
                  set: {a: 1}
            """,
            "/do/0/t",
            id="input-in-input.from",
        ),
        pytest.param(
            """
            do:
              - t:
                  set: {a: 1}
                  output:
                    as: $output
            """,
            "/do/0/t",
            id="output-in-output.as",
        ),
        pytest.param(
            """
            do:
              - t:
                  set: {a: '${ $output }'}
            """,
            "/do/0/t",
            id="output-in-definition",
        ),
        pytest.param(
            """
            input:
              from: $context
            do:
              - t:
                  set: {a: 1}
            """,
            None,
            id="context-in-workflow-input.from",
        ),
        pytest.param(
            """
            do:
              - t:
                  set: {a: 1}
            output:
              as: $input
            """,
            None,
            id="input-in-workflow-output.as",
        ),
        pytest.param(
            """
            do:
              - t:
                  set: {a: 1}
            output:
              as: $task
            """,
            None,
            id="task-in-workflow-output.as",
        ),
    ],
)
async def test_argument_not_available_at_a_stage_is_an_expression_error(
    body: str, instance: str | None
) -> None:
    error = await fault(body)
    assert error.type == EXPRESSION
    assert error.status == 400
    if instance is not None:
        assert error.instance == instance


# --- env and $ENV -----------------------------------------------------------------------


async def test_env_and_dollar_env_never_reveal_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_LEAK_CHECK", "do-not-leak")
    body = """
    do:
      - t:
          set:
            env: ${ env }
            dollarEnv: ${ $ENV }
            one: ${ env.PODIUM_LEAK_CHECK }
            other: ${ $ENV.PODIUM_LEAK_CHECK }
    """
    out = await run(body)
    assert out == {"env": {}, "dollarEnv": {}, "one": None, "other": None}
    assert "do-not-leak" not in repr(out)


# --- the expression error ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "instance"),
    [
        pytest.param(
            """
            do:
              - t:
                  set:
                    x: ${ .name.first }
            """,
            "/do/0/t",
            id="index-a-string",
        ),
        pytest.param(
            """
            do:
              - group:
                  do:
                    - inner:
                        set:
                          x: ${ error("boom") }
            """,
            "/do/0/group/do/0/inner",
            id="error-in-nested-task",
        ),
        pytest.param(
            """
            do:
              - t:
                  if: ${ .name + 1 }
                  set: {x: 1}
            """,
            "/do/0/t",
            id="in-if",
        ),
        pytest.param(
            """
            do:
              - t:
                  set: {x: 1}
                  output:
                    as: .x.y
            """,
            "/do/0/t",
            id="in-output.as",
        ),
        pytest.param(
            """
            do:
              - t:
                  set: {x: 1}
                  export:
                    as: .x | keys
            """,
            "/do/0/t",
            id="in-export.as",
        ),
    ],
)
async def test_failing_expression_faults_with_the_expression_error(
    body: str, instance: str
) -> None:
    execution, _ = await execute(body, {"name": "rex"})
    assert execution.status == "faulted"
    error = execution.error
    assert error is not None
    assert error.type == EXPRESSION
    assert error.status == 400
    assert error.instance == instance
    assert error.to_dict()["type"] == EXPRESSION


# --- several results, strict and loose ------------------------------------------------


async def test_several_jq_results_become_a_list() -> None:
    body = """
    do:
      - t:
          set:
            names: ${ .pets[] | .name }
            one: ${ .pets[0].name }
            array: ${ [.pets[] | .name] }
    """
    out = await run(body, {"pets": [{"name": "a"}, {"name": "b"}]})
    assert out == {"names": ["a", "b"], "one": "a", "array": ["a", "b"]}


async def test_strict_mode_keeps_plain_strings_as_text() -> None:
    body = """
    do:
      - t:
          set:
            path: .name
            text: hello world
            expr: ${ .name }
    """
    assert await run(body, {"name": "rex"}) == {
        "path": ".name",
        "text": "hello world",
        "expr": "rex",
    }


async def test_loose_mode_evaluates_plain_strings_that_are_valid_jq() -> None:
    body = """
    evaluate:
      mode: loose
    do:
      - t:
          set:
            path: .name
            math: .n + 1
            text: hello world
            word: circle
            expr: ${ .name }
    """
    assert await run(body, {"name": "rex", "n": 1}) == {
        "path": "rex",
        "math": 2,
        "text": "hello world",
        "word": "circle",
        "expr": "rex",
    }


async def test_loose_mode_keeps_text_whose_evaluation_fails() -> None:
    body = """
    evaluate:
      mode: loose
    do:
      - t:
          set:
            failing: .name.first
    """
    assert await run(body, {"name": "rex"}) == {"failing": ".name.first"}
