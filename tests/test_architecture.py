"""The house rules a newcomer relies on: no import cycle anywhere in the project, repcam_core's
layers import downward only, and no module over 400 lines (docs/ARCHITECTURE.md draws them).

Every import counts: module level, inside a function, and under ``if TYPE_CHECKING:`` (a lazy
import still makes two modules depend on each other; it only hides the cycle from Python).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("repcam_core", "repcam_app", "app_pages", "bench")
MAX_LINES = 400

# repcam_core's layers, lowest first: a module may import its own layer and those below it.
LAYERS = ("foundation", "storage", "data", "models", "cam", "method", "evaluation", "running", "figures", "cli")
FOUNDATION = {"repcam_core", "repcam_core.errors", "repcam_core.registry", "repcam_core.schema"}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for the project's packages and ``app.py`` under ``root``."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    if (root / "app.py").is_file():
        out["app"] = root / "app.py"
    return out


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (``from pkg import name`` counts as ``pkg.name``
    when that is a module, else as ``pkg``)."""

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for target in targets:
                found = known(target)
                if found and found != mod:
                    graph[mod].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> str | None:
    """The layer of a repcam_core module (None outside repcam_core)."""
    if module in FOUNDATION:
        return "foundation"
    parts = module.split(".")
    if parts[0] != "repcam_core":
        return None
    if len(parts) < 2 or parts[1] not in LAYERS:
        raise AssertionError(f"{module} is in no layer: put it in one of {LAYERS[1:]} (or add it to FOUNDATION)")
    return parts[1]


def test_the_cycle_finder_sees_a_lazy_and_a_type_only_cycle(tmp_path):
    """The checker itself: a cycle closed by a function-local import and one closed under
    TYPE_CHECKING are both found; a one-way import is not a cycle."""
    pkg = tmp_path / "repcam_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from repcam_core import b\n")
    (pkg / "b.py").write_text("def f():\n    from repcam_core.a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n")
    (pkg / "d.py").write_text("import repcam_core.c\n")
    (pkg / "e.py").write_text("from repcam_core.a import thing\n")
    graph = import_graph(modules(tmp_path))
    assert cycles(graph) == [["repcam_core.a", "repcam_core.b"], ["repcam_core.c", "repcam_core.d"]]


def test_no_import_cycle_anywhere_in_the_project():
    found = cycles(import_graph(modules()))
    assert not found, "import cycles (each component's modules import each other):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_repcam_cores_layers_import_downward_only():
    graph = import_graph(modules())
    wrong = []
    for mod, targets in sorted(graph.items()):
        here = layer(mod)
        if here is None:
            continue
        for target in sorted(targets):
            there = layer(target)
            if there is None:
                wrong.append(f"{mod} imports {target}, outside repcam_core")
            elif LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{mod} ({here}) imports {target} ({there}), a higher layer")
    assert not wrong, "\n".join(wrong)


def test_every_repcam_core_module_is_in_a_layer_folder_or_the_foundation():
    loose = [m for m in modules() if m.startswith("repcam_core.") and m.count(".") == 1 and m not in FOUNDATION
             and m.split(".")[1] not in LAYERS]
    assert not loose, f"modules outside the layer folders: {loose}"


@pytest.mark.parametrize("package", [*PACKAGES, "tests", "docs", "app.py", "setup.py"])
def test_no_module_over_400_lines(package):
    paths = [ROOT / package] if package.endswith(".py") else sorted((ROOT / package).rglob("*.py"))
    long = {str(p.relative_to(ROOT)): n for p in paths if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (one idea each): {long}"
