"""The use-case launcher: ``python -m examples.use_cases`` lists the use cases and
refuses a name it does not know."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from examples import use_cases

ROOT = Path(__file__).resolve().parents[2]


def test_every_use_case_directory_has_services_and_a_readme() -> None:
    for name in use_cases.names():
        directory = use_cases.directory(name)
        assert (directory / "README.md").is_file(), name
        assert list(directory.glob("*.yaml")), f"{name} has no workflow document"


def test_the_launcher_lists_the_use_cases() -> None:
    listed = subprocess.run([sys.executable, "-m", "examples.use_cases"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    assert listed.stdout.split() == use_cases.names()


def test_an_unknown_use_case_is_refused_with_the_list() -> None:
    with pytest.raises(SystemExit, match="no use case named 'nope'"):
        use_cases.load("nope")


@pytest.mark.parametrize("name", use_cases.names())
def test_every_document_of_a_use_case_is_valid(name: str) -> None:
    """``podium validate`` (a fresh process, as a user runs it) accepts every
    workflow document of the use case."""
    documents = sorted(use_cases.directory(name).rglob("*.yaml"))
    checked = subprocess.run([sys.executable, "-c", "from podium.cli import main; main()",
                              "validate", *documents],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [f"{path}: valid" for path in documents]
