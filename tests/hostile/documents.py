"""Hostile workflow documents and inputs: every reproducer issue 7 reported, as text.

Each builder returns the document text; the tests write it to a file and run podium
on it. Nothing here is big on disk: the large ones are generated.
"""

from __future__ import annotations

import json

HEADER = "document: {dsl: '1.0.3', namespace: hostile, name: NAME, version: '1.0.0'}\n"


def workflow(name: str, body: str) -> str:
    """A document with a header and ``body`` (the ``do:`` block and anything else)."""
    return HEADER.replace("NAME", name) + body


def one_task(name: str, task: str) -> str:
    """A document whose single task is ``task`` (YAML flow or block, indented 4)."""
    return workflow(name, f"do:\n  - only:\n{task}")


# -- nesting -------------------------------------------------------------------------------


def nested_set(levels: int) -> str:
    return one_task("deep-set", f"      set: {{v: {'[' * levels}1{']' * levels}}}\n")


def nested_block(levels: int) -> str:
    """Block-style mappings nested ``levels`` deep inside a set."""
    lines = ["      set:"]
    indent = 8
    for _ in range(levels):
        lines.append(" " * indent + "a:")
        indent += 2
    lines.append(" " * indent + "b: 1")
    return one_task("deep-block", "\n".join(lines) + "\n")


def nested_json(levels: int) -> str:
    return (
        '{"document": {"dsl": "1.0.3", "namespace": "hostile", "name": "deep-json",'
        ' "version": "1.0.0"}, "do": [{"only": {"set": {"v": '
        + "[" * levels + "1" + "]" * levels + "}}}]}"
    )


def nested_input(levels: int) -> str:
    return "[" * levels + "]" * levels


def built_deep_data() -> str:
    """jq builds data 3,000 levels deep; the next task uses it."""
    return workflow("built-deep", """do:
  - build:
      set: {v: '${ reduce range(3000) as $i (null; [.]) }'}
  - use:
      set: {w: '${ .v }'}
""")


# -- YAML that is not JSON ----------------------------------------------------------------

TAGS = {
    "custom-tag": "!foo bar",
    "binary": "!!binary aGVsbG8=",
    "set": "!!set {a, b}",
    "python-name": "!!python/name:os.system",
}


def tagged(value: str) -> str:
    return one_task("tagged", f"      set: {{v: {value}}}\n")


def complex_key() -> str:
    return one_task("complex-key", "      set:\n        ? [a, b]\n        : 1\n")


def null_key() -> str:
    return one_task("null-key", "      set:\n        ~: 1\n")


def control_character() -> str:
    return one_task("control", "      set: {v: \"bell\x07here\"}\n")


def json_trailing_comma() -> str:
    return (
        '{"document": {"dsl": "1.0.3", "namespace": "hostile", "name": "comma",'
        ' "version": "1.0.0",}, "do": [{"only": {"set": {"v": 1}}}]}'
    )


# -- durations -----------------------------------------------------------------------------


def huge_timeout() -> str:
    return one_task("huge-timeout",
                    "      timeout: {after: P99999999999999D}\n      wait: PT1S\n")


def huge_wait() -> str:
    return one_task("huge-wait", "      wait: {days: 1000000000}\n")


def computed_huge_timeout() -> str:
    return one_task(
        "computed-timeout",
        "      timeout: {after: '${ \"P99999999999999D\" }'}\n      wait: PT0.1S\n",
    )


# -- expressions ---------------------------------------------------------------------------


def runaway(timeout: str | None) -> str:
    limit = f"      timeout: {{after: {timeout}}}\n" if timeout else ""
    return one_task("runaway", limit + "      set: {v: '${ until(false; .) }'}\n")


def libjq_abort() -> str:
    return one_task("abort", "      set: {v: '${ def f: 1 + f; f }'}\n")


def compile_bomb(count: int = 1) -> str:
    values = ", ".join(f'v{i}: \'${{ "x" * 2000000000 | length }}\'' for i in range(count))
    return one_task("compile-bomb", f"      set: {{{values}}}\n")


def then_cycle(timeout: str) -> str:
    return workflow("cycle", f"""timeout: {{after: {timeout}}}
do:
  - again:
      set: {{n: 1}}
      then: again
""")


def non_finite() -> str:
    return one_task(
        "non-finite", "      set: {v: '${ nan }', n: '${ infinite }', m: '${ -infinite }'}\n"
    )


def escapes_in_title() -> str:
    return one_task("escapes", """      raise:
        error:
          type: https://example.com/errors/cleared
          status: 400
          title: "\\e[2J\\e[31mCLEARED"
          detail: "bell\\a and \\e]0;title\\a"
""")


# -- aliases -------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each level a list of ``width`` aliases of the previous."""
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels):
        refs = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"a{level}: &a{level} [{refs}]")
    refs = ", ".join(f"*a{levels - 1}" for _ in range(width))
    return one_task("laughs", "      set:\n" + "\n".join(" " * 8 + line for line in lines)
                    + f"\n        v: [{refs}]\n")


# -- sizes ---------------------------------------------------------------------------------


def long_comment(size: int) -> str:
    return workflow("comment", "# " + "x" * size + "\ndo:\n  - only:\n      set: {v: 1}\n")


def oversized(size: int) -> str:
    return one_task("big", f"      set: {{v: {json.dumps('y' * size)}}}\n")


# -- resources -----------------------------------------------------------------------------


def escaping_resource() -> str:
    return one_task("escape", """      call: openapi
      with:
        document: {endpoint: 'file://../../../../../../../../etc/passwd'}
        operationId: anything
""")
