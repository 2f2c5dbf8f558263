"""`for` (dsl-reference "For"): iterate over a collection; the output of one
iteration is the input of the next."""

from __future__ import annotations

from tests.engine.harness import ERRORS, fault, run


async def test_default_item_and_index_variables() -> None:
    body = """
    do:
      - loop:
          for:
            in: .items
          do:
            - collect:
                set:
                  items: ${ .items }
                  seen: '${ (.seen // []) + [{item: $item, index: $index}] }'
    """
    out = await run(body, {"items": ["a", "b", "c"]})
    assert out["seen"] == [
        {"item": "a", "index": 0},
        {"item": "b", "index": 1},
        {"item": "c", "index": 2},
    ]


async def test_custom_each_and_at_names() -> None:
    body = """
    do:
      - checkup:
          for:
            each: pet
            in: .pets
            at: position
          do:
            - visit:
                set:
                  pets: ${ .pets }
                  visits: '${ (.visits // []) + ["\\($position):\\($pet.name)"] }'
    """
    out = await run(body, {"pets": [{"name": "rex"}, {"name": "tom"}]})
    assert out["visits"] == ["0:rex", "1:tom"]


async def test_each_iteration_gets_the_previous_iterations_output() -> None:
    body = """
    do:
      - sum:
          for:
            in: .numbers
          do:
            - add:
                set:
                  numbers: ${ .numbers }
                  total: ${ (.total // 0) + $item }
    """
    out = await run(body, {"numbers": [1, 2, 3, 4]})
    assert out == {"numbers": [1, 2, 3, 4], "total": 10}


async def test_for_output_is_the_last_iterations_output_and_feeds_the_next_task() -> None:
    body = """
    do:
      - loop:
          for:
            in: '[10, 20]'
          do:
            - last:
                set: {value: '${ $item }'}
      - next:
          set:
            received: ${ . }
    """
    assert await run(body) == {"received": {"value": 20}}


async def test_several_subtasks_per_iteration() -> None:
    body = """
    do:
      - loop:
          for:
            in: .xs
          do:
            - double:
                set:
                  xs: ${ .xs }
                  acc: ${ .acc }
                  doubled: ${ $item * 2 }
            - append:
                set:
                  xs: ${ .xs }
                  acc: ${ .acc + [.doubled] }
    """
    out = await run(body, {"xs": [1, 2, 3], "acc": []})
    assert out == {"xs": [1, 2, 3], "acc": [2, 4, 6]}


async def test_while_stops_the_iteration() -> None:
    body = """
    do:
      - sum:
          for:
            in: .numbers
          while: ${ (.total // 0) < 3 }
          do:
            - add:
                set:
                  numbers: ${ .numbers }
                  total: ${ (.total // 0) + $item }
                  last: ${ $item }
    """
    out = await run(body, {"numbers": [1, 2, 3, 4]})
    assert out == {"numbers": [1, 2, 3, 4], "total": 3, "last": 2}


async def test_empty_collection_leaves_the_input_unchanged() -> None:
    body = """
    do:
      - loop:
          for:
            in: .items
          do:
            - never:
                set: {ran: true}
    """
    assert await run(body, {"items": [], "keep": 1}) == {"items": [], "keep": 1}


async def test_item_variables_are_visible_in_nested_tasks_and_their_transforms() -> None:
    body = """
    do:
      - loop:
          for:
            in: .items
          do:
            - wrap:
                do:
                  - inner:
                      set:
                        acc: ${ .acc }
                      output:
                        as: '${ {acc: (.acc + [$item])} }'
    """
    assert await run(body, {"items": [1, 2], "acc": []}) == {"acc": [1, 2]}


async def test_loop_variables_do_not_leak_after_the_loop() -> None:
    body = """
    do:
      - loop:
          for:
            in: '[1]'
          do:
            - noop:
                set: {x: 1}
      - after:
          set:
            item: ${ $item }
    """
    error = await fault(body)
    assert error.type == ERRORS + "expression"
    assert error.instance == "/do/1/after"
