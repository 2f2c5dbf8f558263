"""`run: script` (dsl-reference "Script Process").

The script is written to a file in a private temporary directory and run as
``INTERPRETER FILE ARG...``, so the arguments are where each language expects
them: ``process.argv[2]`` in JavaScript (as the spec's example reads them),
``sys.argv[1]`` in Python. The directory is removed when the process ends,
also when nobody awaits it (``await: false``).

- ``python``: this interpreter (``sys.executable``).
- ``javascript`` / ``js``: ``node`` from ``PATH``. The file is an ES module
  (``.mjs``): the spec names ES2024, whose module syntax its own example uses
  (``import { readFileSync } from 'node:fs'``).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.processes import _process
from podium.resources import read_text

# language -> (program, file suffix)
LANGUAGES = {
    "python": ("python", ".py"),
    "javascript": ("node", ".mjs"),
    "js": ("node", ".mjs"),
}


def interpreter(language: str, run: TaskRun) -> tuple[str, str]:
    """The interpreter's path and the script file's suffix for ``language``."""
    known = LANGUAGES.get(language.lower())
    if known is None:
        raise WorkflowError.configuration(
            f"script language {language!r} is not supported: use python or javascript",
            run.reference,
        )
    program, suffix = known
    if program == "python":
        return sys.executable, suffix
    found = shutil.which(program)
    if found is None:
        raise WorkflowError.configuration(
            f"{language} scripts need {program} (Node.js), which is not on this "
            "runtime's PATH", run.reference,
        )
    return found, suffix


async def execute_script(config: m.RunConfig, run: TaskRun) -> Any:
    script = config.script
    assert script is not None
    _process.require_allowed("script", run)
    program, suffix = interpreter(script.language, run)
    if script.source is not None:
        code, _ = await read_text(script.source, run)
    else:
        assert script.code is not None
        code = script.code
    argv = await _process.arguments(script.arguments, run)
    env = await _process.environment(script.environment, run)
    data = await _process.stdin(script.stdin, run)
    folder = tempfile.mkdtemp(prefix="podium-script-")
    remove = functools.partial(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / f"script{suffix}"
    try:
        await asyncio.to_thread(path.write_text, code, encoding="utf-8")
        # Not awaited, the process outlives the task: its reaper removes the file.
        return await _process.execute(
            [program, str(path), *argv], env=env, stdin=data, awaited=config.await_,
            return_=config.return_, what=f"the {script.language} script", run=run,
            after=None if config.await_ else remove,
        )
    finally:
        if config.await_:
            remove()
