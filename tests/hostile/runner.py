"""The child side of ``HostileRunner``: takes documents on stdin, one JSON request a
line, checks or runs each through the Python API and answers one JSON line each.

    {"op": "validate", "text": "..."}            -> {"problems": ["file:1:2: /do: ..."]}
    {"op": "run", "text": "...", "input": {...}} -> {"status": "completed", ...}

The API's contract is what is checked here: ``validate`` returns problems,
``load`` raises ``InvalidWorkflowError`` and nothing else, ``Runtime.execute``
reports a fault in its result and never raises, and what comes out is strict JSON.
Anything else is answered as ``{"crash": traceback}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import Any

import podium
from podium import InvalidWorkflowError, Runtime

# Generated workflows run flow tasks only; a run longer than this is a defect too.
RUN_SECONDS = 20.0


def _as_text(text: str) -> str:
    """The document as text, never as a path: the API reads a one-line string that
    could name a file (``!foo``, a damaged document cut short) as that file."""
    return text if "\n" in text else text + "\n"


async def _run(runtime: Runtime, text: str, data: Any) -> dict[str, Any]:
    try:
        definition = podium.load(_as_text(text), name="generated.yaml")
    except InvalidWorkflowError as exc:
        return {"refused": [str(p) for p in exc.problems]}
    async with asyncio.timeout(RUN_SECONDS):
        execution = await runtime.execute(definition, data)
    answer: dict[str, Any] = {"status": execution.status}
    if execution.error is not None:
        answer["error"] = execution.error.to_dict()
    else:
        answer["output"] = execution.output
    return answer


def _validate(text: str) -> dict[str, Any]:
    return {"problems": [str(p) for p in podium.validate(_as_text(text),
                                                          name="generated.yaml")]}


async def main() -> None:
    async with Runtime() as runtime:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                if request["op"] == "validate":
                    answer = _validate(request["text"])
                else:
                    answer = await _run(runtime, request["text"], request.get("input"))
                text = json.dumps(answer, allow_nan=False)
            except BaseException:  # the point: report anything that escaped the API
                text = json.dumps({"crash": traceback.format_exc()})
            sys.stdout.write(text + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
