"""Installing RepCAM as a package: pyproject.toml and requirements*.txt declare the same
dependencies."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


# ---------------------------------------------------------------- the dependencies, declared twice
def requirements(lines: list[str]) -> dict[str, Requirement]:
    """Requirement lines (comments, blank lines and ``-r`` includes left out) by canonical name."""
    found: dict[str, Requirement] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        req = Requirement(line)
        assert canonicalize_name(req.name) not in found, f"{req.name} is listed twice"
        found[canonicalize_name(req.name)] = req
    return found


def said(reqs: dict[str, Requirement]) -> dict[str, tuple]:
    """What each requirement says, in a form that compares equal when two spellings mean the same."""
    return {name: (tuple(sorted(r.extras)), str(r.specifier), str(r.marker or ""), r.url) for name, r in reqs.items()}


def requirements_file(name: str) -> dict[str, Requirement]:
    return requirements((ROOT / name).read_text().splitlines())


def test_pyproject_declares_what_requirements_txt_installs():
    declared = requirements(PYPROJECT["project"]["dependencies"])
    assert said(declared) == said(requirements_file("requirements.txt"))
    # the pins docs/installing.md explains: exact versions, not ranges
    assert str(declared["torch"].specifier) == "==2.14.1" and str(declared["torchvision"].specifier) == "==0.29.1"


def test_the_extras_are_what_requirements_dev_txt_adds():
    extras = PYPROJECT["project"]["optional-dependencies"]
    dev_file = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev_file  # the dev tools come on top of the runtime
    assert said(requirements(extras["dev"])) == said(requirements(dev_file))
    assert said(requirements(extras["ray"])) == {"ray": (("default",), ">=2.30", "", None)}
    assert said(requirements(extras["ray"])).items() <= said(requirements(extras["dev"])).items()


def test_a_drifted_pin_is_told_apart():
    """The comparison above is not blind: one changed version, extra or marker makes a difference."""
    base = said(requirements(["torch==2.14.1", "ray[default]>=2.30"]))
    assert base == said(requirements(["ray[default] >= 2.30  # same", "torch == 2.14.1"]))
    for drifted in (["torch==2.14.0", "ray[default]>=2.30"], ["torch==2.14.1", "ray>=2.30"],
                    ["torch==2.14.1", "ray[default]>=2.30; python_version<'3.12'"], ["torch==2.14.1"]):
        assert said(requirements(drifted)) != base, drifted
