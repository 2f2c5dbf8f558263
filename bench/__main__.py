"""``python -m bench``: the benchmarks (see bench/README.md).

- ``python -m bench memory [--iterations N] [-w NAME] [--json]``: the interpreter
  alone, in memory (also what ``python -m bench`` with no workload name runs);
- ``python -m bench W1|W2|W3 [--store URL] [--workers N] [--json]``: durable
  workloads on SQLite or PostgreSQL;
- ``python -m bench W4|W5 [--store URL] [--json]``: events (round trip, many
  listeners);
- ``python -m bench api [--store URL] [--seconds N] [--connections N] [--json]``:
  the HTTP API of ``podium serve`` (starts/s, events/s accepted);
- ``python -m bench compare [--store URL] [--baseline REV] [--runs 3] [--save]``:
  W1/W2/W3 of this tree beside another revision, interleaved (medians, min-max, ratios).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bench import api, compare, durable, events, memory


def main(argv: Sequence[str]) -> None:
    if argv and argv[0].upper() in durable.DURABLE:
        durable.main(argv)
    elif argv and argv[0].upper() in events.EVENTS:
        events.main(argv)
    elif argv and argv[0] == "compare":
        compare.main(argv[1:])
    elif argv and argv[0] == "api":
        api.main(argv[1:])
    elif argv and argv[0] == "memory":
        memory.main(argv[1:])
    elif argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
    else:
        memory.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
