"""dsl.md "Data Flow", steps 1-11: schemas and transformations around the
workflow and around every task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium import InvalidWorkflowError, load
from tests.engine.harness import ERRORS, execute, fault, of_type, run, runtime, workflow
from tests.support.egress import TMP_FILES

VALIDATION = ERRORS + "validation"

# --- 1. workflow input.schema ---------------------------------------------------------

INPUT_SCHEMA = """
input:
  schema:
    format: json
    document:
      type: object
      required: [order]
      properties:
        order: {type: object, required: [id], properties: {id: {type: integer}}}
do:
  - echo:
      set: ${ . }
"""


async def test_valid_workflow_input_passes_its_schema() -> None:
    assert await run(INPUT_SCHEMA, {"order": {"id": 7}}) == {"order": {"id": 7}}


@pytest.mark.parametrize("bad", [{}, {"order": {"id": "seven"}}, [1, 2]], ids=str)
async def test_invalid_workflow_input_faults_with_validation_error_before_any_task(
    bad: object,
) -> None:
    execution, events = await execute(INPUT_SCHEMA, bad)
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type == VALIDATION
    assert execution.error.status == 400
    assert of_type(events, "task.created") == []


async def test_workflow_input_schema_checks_the_raw_input_not_the_transformed_one() -> None:
    body = """
    input:
      schema:
        format: json
        document: {type: object, required: [raw]}
      from: '${ {kept: .raw} }'
    do:
      - echo:
          set: ${ . }
    """
    assert await run(body, {"raw": 1}) == {"kept": 1}


# --- 2. workflow input.from ------------------------------------------------------------


async def test_workflow_input_from_gives_the_first_task_its_input() -> None:
    body = """
    input:
      from: .order.pet
    do:
      - first:
          set:
            seen: ${ . }
    """
    assert await run(body, {"order": {"pet": {"id": 3}}, "noise": True}) == {"seen": {"id": 3}}


async def test_workflow_input_from_object_template() -> None:
    body = """
    input:
      from:
        petId: ${ .order.pet.id }
        fixed: constant
    do:
      - first:
          set: ${ . }
    """
    assert await run(body, {"order": {"pet": {"id": 3}}}) == {"petId": 3, "fixed": "constant"}


async def test_missing_workflow_input_is_an_empty_object() -> None:
    body = """
    do:
      - first:
          set: ${ . }
    """
    assert await run(body) == {}


async def test_transformed_workflow_input_is_the_initial_context() -> None:
    # dsl.md "Data Flow" diagram: the transformed workflow input is "set as" $context.
    body = """
    input:
      from: '${ {a: .a} }'
    do:
      - first:
          set:
            context: ${ $context }
    """
    assert await run(body, {"a": 1, "b": 2}) == {"context": {"a": 1}}


# --- 3-4. task input.schema and input.from --------------------------------------------


async def test_task_input_schema_validates_the_raw_task_input() -> None:
    body = """
    do:
      - narrow:
          input:
            schema:
              format: json
              document: {type: object, required: [raw]}
            from: '${ {only: .raw} }'
          set: ${ . }
    """
    assert await run(body, {"raw": "x"}) == {"only": "x"}


async def test_task_input_schema_violation_faults_at_the_task() -> None:
    body = """
    do:
      - fine:
          set: {a: 1}
      - strict:
          input:
            schema:
              format: json
              document: {type: object, required: [b]}
          set: {never: true}
    """
    error = await fault(body)
    assert error.type == VALIDATION
    assert error.status == 400
    assert error.instance == "/do/1/strict"


async def test_task_input_from_is_what_the_task_works_on() -> None:
    body = """
    do:
      - pick:
          input:
            from: .pet
          set:
            name: ${ .name }
            input: ${ $input }
    """
    out = await run(body, {"pet": {"name": "rex"}, "other": 1})
    assert out == {"name": "rex", "input": {"name": "rex"}}


async def test_task_input_from_object_template() -> None:
    body = """
    do:
      - pick:
          input:
            from:
              who: ${ .pet.name }
          set: ${ . }
    """
    assert await run(body, {"pet": {"name": "rex"}}) == {"who": "rex"}


async def test_task_input_from_does_not_change_the_next_tasks_input() -> None:
    # The next task gets the previous task's output, whatever its input.from did.
    body = """
    do:
      - first:
          input:
            from: '{}'
          set: {count: 1}
      - second:
          set: ${ . }
    """
    assert await run(body, {"ignored": True}) == {"count": 1}


# --- 5-6. task output.as and output.schema -------------------------------------------


async def test_output_as_transforms_the_raw_output_for_the_next_task() -> None:
    body = """
    do:
      - produce:
          set: {pet: {id: 1, name: rex}, noise: true}
          output:
            as: .pet
      - consume:
          set:
            received: ${ . }
    """
    assert await run(body) == {"received": {"id": 1, "name": "rex"}}


async def test_output_as_object_template() -> None:
    body = """
    do:
      - produce:
          set: {pet: {id: 1, name: rex}}
          output:
            as:
              petId: ${ .pet.id }
              label: ${ "pet-" + .pet.name }
              literal: kept as is
              nested: {list: ['${ .pet.id + 1 }', 3]}
    """
    assert await run(body) == {
        "petId": 1,
        "label": "pet-rex",
        "literal": "kept as is",
        "nested": {"list": [2, 3]},
    }


async def test_output_schema_validates_the_transformed_output() -> None:
    # The raw output lacks `petId`; only the transformed one must match.
    body = """
    do:
      - produce:
          set: {pet: {id: 1}}
          output:
            as: '${ {petId: .pet.id} }'
            schema:
              format: json
              document:
                type: object
                required: [petId]
                properties: {petId: {type: integer}}
                additionalProperties: false
    """
    assert await run(body) == {"petId": 1}


async def test_output_schema_violation_faults_at_the_task() -> None:
    body = """
    do:
      - produce:
          set: {petId: not-a-number}
          output:
            schema:
              format: json
              document:
                type: object
                properties: {petId: {type: integer}}
    """
    error = await fault(body)
    assert error.type == VALIDATION
    assert error.status == 400
    assert error.instance == "/do/0/produce"


# --- 7-8. export.as and export.schema -------------------------------------------------


async def test_export_as_replaces_the_context_seen_by_later_tasks() -> None:
    body = """
    do:
      - remember:
          set: {token: abc, big: [1, 2, 3]}
          export:
            as: '${ {token: .token} }'
      - forget:
          set: {other: 1}
      - use:
          set:
            context: ${ $context }
            input: ${ . }
    """
    assert await run(body) == {"context": {"token": "abc"}, "input": {"other": 1}}


async def test_export_as_evaluates_the_transformed_output() -> None:
    body = """
    do:
      - remember:
          set: {pet: {id: 9}}
          output:
            as: .pet
          export:
            as: '${ {exported: .} }'
      - use:
          set: ${ $context }
    """
    assert await run(body) == {"exported": {"id": 9}}


async def test_export_as_can_merge_into_the_context() -> None:
    body = """
    do:
      - one:
          set: {a: 1}
          export:
            as: $context + .
      - two:
          set: {b: 2}
          export:
            as: $context + .
      - read:
          set: ${ $context }
    """
    assert await run(body, {"start": 0}) == {"start": 0, "a": 1, "b": 2}


async def test_export_as_object_template() -> None:
    body = """
    do:
      - one:
          set: {a: 1}
          export:
            as:
              fromOutput: ${ .a }
              fixed: yes-literal
      - read:
          set: ${ $context }
    """
    assert await run(body) == {"fromOutput": 1, "fixed": "yes-literal"}


async def test_without_export_the_context_is_left_unchanged() -> None:
    body = """
    do:
      - one:
          set: {a: 1}
          export:
            as: .
      - two:
          set: {b: 2}
      - read:
          set: ${ $context }
    """
    assert await run(body) == {"a": 1}


async def test_export_schema_validates_the_new_context() -> None:
    body = """
    do:
      - one:
          set: {a: 1}
          export:
            as: .
            schema:
              format: json
              document: {type: object, required: [a]}
      - read:
          set: ${ $context }
    """
    assert await run(body) == {"a": 1}


async def test_export_schema_violation_faults_at_the_task() -> None:
    body = """
    do:
      - one:
          set: {a: 1}
          export:
            as: '${ {b: .a} }'
            schema:
              format: json
              document: {type: object, required: [a]}
    """
    error = await fault(body)
    assert error.type == VALIDATION
    assert error.status == 400
    assert error.instance == "/do/0/one"


# --- 9. each task's transformed output is the next task's raw input ----------------


async def test_transformed_output_is_the_next_raw_input_through_every_stage() -> None:
    body = """
    do:
      - first:
          set: {n: 1, drop: x}
          output:
            as: '${ {n: .n} }'
      - second:
          input:
            schema:
              format: json
              document:
                type: object
                required: [n]
                properties: {n: {type: integer}}
                additionalProperties: false
          set:
            raw: ${ $task.input }
            n: ${ .n + 1 }
    """
    assert await run(body) == {"raw": {"n": 1}, "n": 2}


# --- 10-11. workflow output.as and output.schema ------------------------------------


async def test_workflow_output_as_transforms_the_last_tasks_output() -> None:
    body = """
    do:
      - last:
          set: {result: {value: 42}, debug: true}
    output:
      as: .result
    """
    assert await run(body) == {"value": 42}


async def test_workflow_output_as_object_template_sees_the_context() -> None:
    body = """
    do:
      - keep:
          set: {x: 1}
          export:
            as: '${ {kept: .x} }'
      - last:
          set: {y: 2}
    output:
      as:
        y: ${ .y }
        fromContext: ${ $context.kept }
    """
    assert await run(body) == {"y": 2, "fromContext": 1}


async def test_workflow_output_schema_validates_the_transformed_output() -> None:
    body = """
    do:
      - last:
          set: {value: 1}
    output:
      as: '${ {total: .value} }'
      schema:
        format: json
        document:
          type: object
          required: [total]
          properties: {total: {type: integer}}
          additionalProperties: false
    """
    assert await run(body) == {"total": 1}


async def test_workflow_output_schema_violation_faults_the_workflow() -> None:
    body = """
    do:
      - last:
          set: {value: 1}
    output:
      schema:
        format: json
        document: {type: object, required: [total]}
    """
    execution, events = await execute(body)
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type == VALIDATION
    assert execution.error.status == 400
    # The task itself completed: the fault belongs to the workflow.
    assert len(of_type(events, "task.completed")) == 1
    assert of_type(events, "task.faulted") == []
    assert len(of_type(events, "workflow.faulted")) == 1


# --- schemas as external resources --------------------------------------------------
# The spec's schema requires an endpoint to be an absolute URI (uriTemplate pattern
# `scheme://...`), so a schema file is referenced with a file:// URI.

EXTERNAL = """
input:
  schema:
    format: json
    resource:
      endpoint: {endpoint}
do:
  - echo:
      set: ${{ . }}
"""

PET_SCHEMA = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}


def _write_workflow(directory: Path, endpoint: str) -> Path:
    path = directory / "flow.yaml"
    path.write_text(workflow(EXTERNAL.format(endpoint=endpoint)), encoding="utf-8")
    return path


async def test_schema_resource_next_to_the_workflow_file(tmp_path: Path) -> None:
    schema = tmp_path / "pet.json"
    schema.write_text(json.dumps(PET_SCHEMA), encoding="utf-8")
    path = _write_workflow(tmp_path, schema.as_uri())
    async with runtime() as rt:
        assert await rt.run(path, {"id": 1}) == {"id": 1}
        bad = await rt.execute(path, {"id": "one"})
    assert bad.status == "faulted"
    assert bad.error is not None
    assert bad.error.type == VALIDATION
    assert bad.error.status == 400


async def test_schema_resource_with_an_endpoint_object(tmp_path: Path) -> None:
    schema = tmp_path / "schemas" / "pet.json"
    schema.parent.mkdir()
    schema.write_text(json.dumps(PET_SCHEMA), encoding="utf-8")
    path = _write_workflow(tmp_path, "{uri: '" + schema.as_uri() + "'}")
    async with runtime() as rt:
        assert await rt.run(path, {"id": 2}) == {"id": 2}
        bad = await rt.execute(path, {})
    assert bad.error is not None
    assert bad.error.type == VALIDATION


async def test_schema_resource_written_in_yaml(tmp_path: Path) -> None:
    schema = tmp_path / "pet.yaml"
    schema.write_text(
        "type: object\nrequired: [id]\nproperties:\n  id: {type: integer}\n", encoding="utf-8"
    )
    path = _write_workflow(tmp_path, schema.as_uri())
    async with runtime() as rt:
        assert await rt.run(path, {"id": 3}) == {"id": 3}
        bad = await rt.execute(path, {"id": None})
    assert bad.error is not None
    assert bad.error.type == VALIDATION


async def test_schema_resource_for_a_task_output(tmp_path: Path) -> None:
    schema = tmp_path / "pet.json"
    schema.write_text(json.dumps(PET_SCHEMA), encoding="utf-8")
    body = f"""
    do:
      - produce:
          set: {{id: wrong}}
          output:
            schema:
              format: json
              resource:
                endpoint: {schema.as_uri()}
    """
    error = await fault(body, settings=TMP_FILES)  # a text document, its schema in tmp_path
    assert error.type == VALIDATION
    assert error.instance == "/do/0/produce"


async def test_missing_schema_resource_is_a_configuration_error(tmp_path: Path) -> None:
    path = _write_workflow(tmp_path, (tmp_path / "absent.json").as_uri())
    async with runtime() as rt:
        execution = await rt.execute(path, {"id": 1})
    assert execution.status == "faulted"
    assert execution.error is not None
    assert execution.error.type == ERRORS + "configuration"
    assert "absent.json" in (execution.error.detail or "")


def test_relative_schema_endpoint_is_rejected_when_loading(tmp_path: Path) -> None:
    path = _write_workflow(tmp_path, "pet.json")
    with pytest.raises(InvalidWorkflowError, match="absolute URI"):
        load(path)
