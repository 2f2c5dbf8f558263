"""``podium validate``: check documents without running them.

Kept apart from ``podium run`` so that checking a document imports the DSL and
nothing of the runtime (README "Command line": a CLI that starts in 0.3 s).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from podium.cli._output import EXIT_INVALID, problem_line, stdout
from podium.dsl import validate

WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


def validate_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="Workflow definitions to check; a directory stands for the *.yaml, *.yml "
                 "and *.json files below it.",
        ),
    ],
) -> None:
    """Check documents without running them.

    Prints to stdout one "file:line:col: /pointer: message" line per problem
    (every problem of every file) and "FILE: valid" for each valid file. A
    directory is searched for *.yaml, *.yml and *.json files (hidden ones
    skipped), checked in sorted order. Exit 0 when all files are valid, 2
    otherwise (or when a directory holds none).
    """
    console = stdout()
    failed = False
    for given in files:
        paths = _workflow_files(given) if given.is_dir() else [given]
        if not paths:
            console.print(Text.assemble(
                (str(given), "bold"), ": no workflow files (*.yaml, *.yml, *.json) in this "
                "directory"
            ))
            failed = True
        for path in paths:
            problems = validate(path)
            for problem in problems:
                console.print(problem_line(problem))
            if problems:
                failed = True
            else:
                console.print(Text.assemble((str(path), "bold"), ": ", ("valid", "green")))
    if failed:
        raise typer.Exit(EXIT_INVALID)


def _workflow_files(directory: Path) -> list[Path]:
    """The workflow files below ``directory``, sorted; hidden files and directories
    (``.git``, ``.venv``) are skipped, and symbolic links to directories not
    followed (no cycles)."""
    found: list[Path] = []
    for root, directories, names in os.walk(directory):
        directories[:] = [d for d in directories if not d.startswith(".")]
        found.extend(
            Path(root, name) for name in names
            if name.endswith(WORKFLOW_SUFFIXES) and not name.startswith(".")
        )
    return sorted(found)
