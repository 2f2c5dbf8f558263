"""The layers of ARCHITECTURE.md hold: no module imports a module of a higher layer.

Read from the source with ``ast`` (nothing is imported), so an import under
``if TYPE_CHECKING:`` or inside a function counts as much as one at the top: a
type-only import up the layers is still a dependency the design says not to
have. What a lower layer needs from a higher one is a Protocol it declares
(``podium.engine.host.Host``), implemented above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"

# Top to bottom; a module may import its own layer and the ones below. A unit is
# a package under ``podium`` or a module directly in it.
LAYERS: dict[str, int] = {
    # surfaces; ``podium`` is the package's __init__, the public API over the runtime.
    "podium": 5, "cli": 5, "server": 5, "records": 5,
    # the host: runs instances and starts them for tasks (the Host protocol).
    # ``telemetry`` observes it from beside it (a lifecycle listener, the error
    # reports of runtime and worker): only the surfaces wire it in.
    "runtime": 4, "worker": 4, "registry": 4, "scheduling": 4, "telemetry": 4,
    "recovery": 4,
    # the engine and what its tasks do. ``deployment`` sits here, not with the
    # registry that calls it: it knows function documents (``calls.function``)
    # and ``calls.grpc`` reads a deployed proto's imports from it. ``resources``
    # reads a task's resources (with its ``authentication``) for calls,
    # processes and schemas.
    "engine": 3, "tasks": 3, "calls": 3, "processes": 3, "auth": 3,
    "deployment": 3, "resources": 3,
    # what the engine builds on.
    "dsl": 2, "expressions": 2, "store": 2, "events": 2,
    # leaves that the layer above uses too: the error shape (expressions raise
    # it), limits, the operator's settings and the egress policy they parse,
    # payload parsing, secret sources, resource guards, versions, the trace
    # context instances continue, fast JSON text.
    "errors": 1, "limits": 1, "config": 1, "egress": 1, "payloads": 1, "secrets": 1,
    "guards": 1, "semver": 1, "_version": 1, "tracecontext": 1, "jsontext": 1,
}

# (importer, imported) pairs allowed although they go up, each with its reason.
# Empty: keep it so, or say here why a dependency cannot be turned around.
ALLOWED: dict[tuple[str, str], str] = {}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "podium"


def _module(path: Path) -> list[str]:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(text: str, package: list[str]) -> list[tuple[str, int]]:
    """The ``podium`` modules a module of ``package`` imports, with their lines."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # Names imported from a package may be its modules: those are imported
            # (``from podium import egress`` is ``podium.egress``, not ``podium``).
            for alias in node.names:
                candidate = SOURCE.joinpath(*module.split("."), alias.name)
                if candidate.with_suffix(".py").exists() or candidate.is_dir():
                    found.append((f"{module}.{alias.name}", node.lineno))
                else:
                    found.append((module, node.lineno))
    return [(name, line) for name, line in dict.fromkeys(found) if name.split(".")[0] == "podium"]


def _upward(importer: str, imports: list[tuple[str, int]]) -> list[str]:
    return [
        f"{importer} (layer {LAYERS[importer]}) imports {name} at line {line} "
        f"(layer {LAYERS[_unit(name)]})"
        for name, line in imports
        if _unit(name) in LAYERS
        and LAYERS[_unit(name)] > LAYERS[importer]
        and (importer, _unit(name)) not in ALLOWED
    ]


def _sources() -> list[Path]:
    return sorted((SOURCE / "podium").rglob("*.py"))


def test_every_unit_has_a_layer() -> None:
    units = {_unit(".".join(_module(path))) for path in _sources()}
    assert sorted(units - LAYERS.keys()) == []


@pytest.mark.parametrize(
    "path", _sources(), ids=lambda path: str(path.relative_to(SOURCE / "podium"))
)
def test_no_import_runs_up_the_layers(path: Path) -> None:
    module = _module(path)
    package = module if path.name == "__init__.py" else module[:-1]
    assert _upward(_unit(".".join(module)), _imports(path.read_text(), package)) == []


def test_type_only_and_relative_imports_count() -> None:
    """The walk sees what hides from a plain reading (else the test above could
    not fail where it matters)."""
    text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..engine import state\n"
        "def later() -> None:\n"
        "    from podium import runtime\n"
    )
    assert _upward("expressions", _imports(text, ["podium", "expressions"])) == [
        "expressions (layer 2) imports podium.engine.state at line 3 (layer 3)",
        "expressions (layer 2) imports podium.runtime at line 5 (layer 4)",
    ]
