"""Load the official CTK ``.feature`` files into plain scenario records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from tests.support.spec import SPEC_DIR

# The CTK ships with the specification; PODIUM_CTK_FEATURES points elsewhere.
FEATURES_DIR = Path(os.environ.get("PODIUM_CTK_FEATURES", SPEC_DIR / "ctk" / "features"))


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str
    doc: str | None
    line: int

    def __str__(self) -> str:
        return f"line {self.line}: {self.keyword.strip()} {self.text}"


@dataclass(frozen=True)
class Scenario:
    id: str  # ``feature-file-stem:Scenario Name``
    path: Path
    line: int
    steps: tuple[Step, ...]


def _step(raw: dict[str, Any]) -> Step:
    if raw.get("dataTable"):
        # No CTK step takes a table today; ignoring one would drop expectations.
        raise ValueError(f"line {raw['location']['line']}: step data tables are not supported")
    doc = raw.get("docString")
    return Step(
        keyword=raw["keyword"],
        text=raw["text"],
        doc=doc["content"] if doc is not None else None,
        line=raw["location"]["line"],
    )


def _scenarios_in(
    children: list[dict[str, Any]], path: Path, background: tuple[Step, ...] = ()
) -> Iterator[Scenario]:
    for child in children:
        if "background" in child:
            background += tuple(_step(raw) for raw in child["background"]["steps"])
        elif "rule" in child:
            yield from _scenarios_in(child["rule"]["children"], path, background)
        elif "scenario" in child:
            raw = child["scenario"]
            line = raw["location"]["line"]
            if raw.get("examples"):
                # Outlines would need placeholder expansion; refuse rather than
                # run the unexpanded ``<placeholders>``.
                raise ValueError(f"{path}:{line}: Scenario Outline is not supported")
            steps = background + tuple(_step(step) for step in raw["steps"])
            yield Scenario(f"{path.stem}:{raw['name']}", path, line, steps)


def load_scenarios(directory: Path = FEATURES_DIR) -> list[Scenario]:
    """Every scenario of every ``*.feature`` file, sorted by file then position."""
    paths = sorted(directory.glob("*.feature"))
    if not paths:
        # An empty parametrization would let the conformance suite pass vacuously.
        raise FileNotFoundError(f"no CTK .feature files in {directory}")
    scenarios: list[Scenario] = []
    for path in paths:
        document = Parser().parse(TokenScanner(path.read_text(encoding="utf-8")))
        # Read as plain JSON-shaped dicts, the form the Gherkin AST is specified in.
        feature: dict[str, Any] | None = cast(dict[str, Any] | None, document.get("feature"))
        if feature is not None:
            scenarios.extend(_scenarios_in(feature["children"], path))
    ids = [scenario.id for scenario in scenarios]
    duplicates = sorted({case_id for case_id in ids if ids.count(case_id) > 1})
    if duplicates:
        raise ValueError(f"duplicate CTK scenario ids: {duplicates}")
    return scenarios
