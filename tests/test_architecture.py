"""The house rules a newcomer relies on: no import cycle anywhere in the project, repcam_core's
layers import downward only, and no module over 400 lines (docs/ARCHITECTURE.md draws them).

Every import counts: module level, inside a function, and under ``if TYPE_CHECKING:`` (a lazy
import still makes two modules depend on each other; it only hides the cycle from Python).
"""

from __future__ import annotations

import pytest

from import_graph import PACKAGES, ROOT, cycles, import_graph, modules
MAX_LINES = 400

# repcam_core's layers, lowest first: a module may import its own layer and those below it.
LAYERS = ("foundation", "storage", "data", "models", "cam", "method", "evaluation", "running", "figures", "cli")
FOUNDATION = {"repcam_core", "repcam_core.errors", "repcam_core.registry", "repcam_core.schema"}


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
