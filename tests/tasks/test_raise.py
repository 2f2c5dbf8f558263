"""`raise` (dsl-reference "Raise", "Error")."""

from __future__ import annotations

from tests.engine.harness import ERRORS, execute, fault, of_type, problem, run


async def test_inline_error_faults_the_workflow_with_its_fields() -> None:
    body = """
    do:
      - reject:
          raise:
            error:
              type: https://fake.com/errors/tickets/undefined-priority
              status: 400
              title: Undefined Priority
              detail: the ticket has no priority
    """
    execution, events = await execute(body)
    assert execution.status == "faulted"
    assert execution.error is not None
    assert problem(execution.error.to_dict()) == {
        "type": "https://fake.com/errors/tickets/undefined-priority",
        "status": 400,
        "title": "Undefined Priority",
        "detail": "the ticket has no priority",
        "instance": "/do/0/reject",
    }
    (faulted,) = of_type(events, "workflow.faulted")
    assert faulted["data"]["error"] == execution.error.to_dict()


async def test_instance_defaults_to_the_pointer_of_the_raising_task() -> None:
    body = """
    do:
      - outer:
          do:
            - setup:
                set: {a: 1}
            - reject:
                raise:
                  error:
                    type: https://example.com/errors/nope
                    status: 409
    """
    error = await fault(body)
    assert error.instance == "/do/0/outer/do/1/reject"
    assert error.status == 409


async def test_explicit_instance_is_kept() -> None:
    body = """
    do:
      - reject:
          raise:
            error:
              type: https://example.com/errors/nope
              status: 400
              instance: /raiseUndefinedPriorityError
    """
    error = await fault(body)
    assert error.instance == "/raiseUndefinedPriorityError"


async def test_reusable_error_from_use_errors() -> None:
    body = """
    use:
      errors:
        notFound:
          type: https://example.com/errors/not-found
          status: 404
          title: Not Found
    do:
      - reject:
          raise:
            error: notFound
    """
    error = await fault(body)
    assert problem(error.to_dict()) == {
        "type": "https://example.com/errors/not-found",
        "status": 404,
        "title": "Not Found",
        "instance": "/do/0/reject",
    }


async def test_expressions_in_title_and_detail() -> None:
    body = """
    do:
      - reject:
          raise:
            error:
              type: https://example.com/errors/not-found
              status: 404
              title: ${ "Pet " + (.petId | tostring) + " missing" }
              detail: ${ "no pet with id \\(.petId) in \\(.store)" }
    """
    error = await fault(body, {"petId": 7, "store": "main"})
    assert error.title == "Pet 7 missing"
    assert error.detail == "no pet with id 7 in main"


async def test_expressions_in_a_reusable_error_see_the_raising_tasks_input() -> None:
    body = """
    use:
      errors:
        invalid:
          type: https://example.com/errors/invalid
          status: 422
          detail: ${ "bad value " + .value }
    do:
      - reject:
          input:
            from: .inner
          raise:
            error: invalid
    """
    error = await fault(body, {"inner": {"value": "x"}})
    assert error.detail == "bad value x"


async def test_standard_type_keeps_the_status_given() -> None:
    body = f"""
    do:
      - reject:
          raise:
            error:
              type: {ERRORS}validation
              status: 422
    """
    error = await fault(body)
    assert error.type == ERRORS + "validation"
    assert error.status == 422


async def test_raised_error_is_caught_by_an_enclosing_try() -> None:
    body = """
    do:
      - guarded:
          try:
            - reject:
                raise:
                  error:
                    type: https://example.com/errors/nope
                    status: 400
                    title: Nope
          catch:
            errors:
              with:
                type: https://example.com/errors/nope
            as: caught
            do:
              - keep:
                  set: ${ $caught }
    """
    assert problem(await run(body)) == {
        "type": "https://example.com/errors/nope",
        "status": 400,
        "title": "Nope",
        "instance": "/do/0/guarded/try/0/reject",
    }


async def test_type_from_an_expression() -> None:
    body = """
    do:
      - reject:
          raise:
            error:
              type: ${ "https://example.com/errors/" + .kind }
              status: 400
    """
    error = await fault(body, {"kind": "out-of-stock"})
    assert error.type == "https://example.com/errors/out-of-stock"
