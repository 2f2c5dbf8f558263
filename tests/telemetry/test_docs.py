"""docs/operations.md's rules and dashboard name only metrics that exist: a
renamed metric or label fails here, not in someone's Prometheus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from podium import Runtime
from podium.store import open_store
from podium.telemetry import Telemetry
from tests.telemetry.conftest import document

DOCS = Path(__file__).resolve().parents[2] / "docs"
METRIC = re.compile(r"\b(podium_[a-z_]+)\b")
RECORDED = re.compile(r"\b(podium:[a-z_0-9:]+)\b")
LABELS = re.compile(r"\b(?:by|on) \(([a-z_, ]+)\)")


async def exposed(tmp_path: Path) -> tuple[set[str], set[str]]:
    """The sample names a busy runtime exposes, and their label names."""
    store = open_store(f"sqlite:///{tmp_path / 'podium.db'}")
    await store.open()
    try:
        async with Runtime(store=store) as runtime:
            telemetry = Telemetry().attach(runtime)
            await runtime.execute(document("some", """\
  - guarded:
      try:
        - fetch:
            call: http
            with: {method: get, endpoint: 'http://127.0.0.1:9/'}
      catch:
        errors: {with: {status: 500}}
        retry: {delay: PT0S, limit: {attempt: {count: 1}}}
"""))
            text = (await telemetry.scrape()).decode()
    finally:
        await store.close()
    names: set[str] = set()
    labels: set[str] = {"le", "instance", "job"}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
            labels.update(re.findall(r'([a-z_]+)="', line))
    return names, labels


def expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for key, value in node.items()
                for text in ([value] if key in ("expr", "query") and isinstance(value, str)
                             else expressions(value))]
    if isinstance(node, list):
        return [text for item in node for text in expressions(item)]
    return []


async def test_the_rules_and_the_dashboard_name_exposed_metrics(tmp_path: Path) -> None:
    names, labels = await exposed(tmp_path)
    rules = YAML(typ="safe").load((DOCS / "prometheus" / "podium-rules.yaml").read_text())
    dashboard = json.loads((DOCS / "grafana" / "podium.json").read_text())
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"]
                if "record" in rule}
    for where, texts in (("rules", expressions(rules)), ("dashboard", expressions(dashboard))):
        used = {name for text in texts for name in METRIC.findall(text)}
        assert used and used <= names, (where, sorted(used - names))
        grouped = {label.strip() for text in texts for found in LABELS.findall(text)
                   for label in found.split(",")}
        assert grouped <= labels, (where, sorted(grouped - labels))
        assert {name for text in texts for name in RECORDED.findall(text)} <= recorded
    assert len([rule for group in rules["groups"] for rule in group["rules"]
                if "alert" in rule]) >= 2


def test_the_dashboard_has_its_three_views() -> None:
    dashboard = json.loads((DOCS / "grafana" / "podium.json").read_text())
    rows = [panel["title"].split(":")[0] for panel in dashboard["panels"]
            if panel["type"] == "row"]
    assert rows == ["Executive overview", "On call", "Debug"]
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert {"prometheus", "workflow", "instance_id"} <= variables
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
