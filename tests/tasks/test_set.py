"""`set` (dsl-reference "Set"): a map or a direct runtime expression."""

from __future__ import annotations

from tests.engine.harness import run


async def test_set_map_evaluates_its_expressions() -> None:
    body = """
    do:
      - setShape:
          set:
            shape: circle
            size: ${ .configuration.size }
            fill: ${ .configuration.fill }
            nested:
              list: [1, '${ .configuration.size * 2 }']
              flag: true
    """
    config = {"configuration": {"size": 4, "fill": "red", "color": "blue"}}
    assert await run(body, config) == {
        "shape": "circle",
        "size": 4,
        "fill": "red",
        "nested": {"list": [1, 8], "flag": True},
    }


async def test_set_expression_gives_the_output() -> None:
    body = """
    do:
      - setColor:
          set: ${ .configuration.color }
    """
    assert await run(body, {"configuration": {"color": "blue"}}) == "blue"


async def test_set_expression_may_build_an_object() -> None:
    body = """
    do:
      - merge:
          set: '${ . + {added: true} }'
    """
    assert await run(body, {"kept": 1}) == {"kept": 1, "added": True}


async def test_set_output_replaces_the_data() -> None:
    # The output is the set value alone: earlier data is not merged in.
    body = """
    do:
      - first:
          set: {a: 1}
      - second:
          set: {b: 2}
    """
    assert await run(body, {"input": 0}) == {"b": 2}


async def test_set_evaluates_on_the_transformed_input() -> None:
    body = """
    do:
      - t:
          input:
            from: .inner
          set:
            value: ${ .v }
    """
    assert await run(body, {"inner": {"v": 5}, "v": "outer"}) == {"value": 5}


async def test_set_keeps_non_string_literals() -> None:
    body = """
    do:
      - t:
          set:
            int: 1
            float: 1.5
            bool: false
            none: null
            list: []
    """
    assert await run(body) == {"int": 1, "float": 1.5, "bool": False, "none": None, "list": []}
