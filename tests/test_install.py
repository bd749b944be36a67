"""Installing RepCAM as a package: pyproject.toml and requirements*.txt declare the same
dependencies, the wheel carries the app (its script, pages, config and logo) and the shipped
model, and the installed copy alone, from a folder outside the checkout, answers ``repcam --help``
and serves the app with ``repcam-app``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from repcam_app.serving import stop

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SITE = "repcam_app/site"
"""Where the wheel carries the app's files (setup.py)."""
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                    "test-artifacts", "repcam-results", ".cache")


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


# ---------------------------------------------------------------- the wheel
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout (the build's own files stay out of the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, tmp / "src", ignore=NOT_SOURCE)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                          "-w", str(tmp / "dist"), str(tmp / "src")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    (found,) = (tmp / "dist").glob("repcam-*.whl")
    return found


def checkout_files(pattern: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if "__pycache__" not in p.parts}


def test_the_wheel_carries_the_app_and_the_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    app = {"app.py", ".streamlit/config.toml", "assets/logo.svg", *checkout_files("app_pages/*.py")}
    assert len(app) > 4  # the pages were found
    assert {n.removeprefix(SITE + "/") for n in names if n.startswith(SITE + "/")} == app  # and nothing else
    prebuilt = {n for n in checkout_files("repcam_core/running/prebuilt/embedded-default/**/*") if (ROOT / n).is_file()}
    assert "repcam_core/running/prebuilt/embedded-default/multiclass/model.safetensors" in prebuilt
    assert prebuilt <= names
    modules = checkout_files("repcam_core/**/*.py") | checkout_files("repcam_app/**/*.py")
    assert modules - names == set()  # every module of the checkout, whatever folder it sits in
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
    assert "repcam = repcam_core.cli:main" in entry_points.decode()
    assert "repcam-app = repcam_app.launch:main" in entry_points.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
def test_the_installed_wheel_serves_the_app_from_any_folder(wheel, tmp_path):
    """As a new user would: the wheel installed (without its dependencies, which this environment
    has) into a folder of its own, then, from a folder outside the checkout, with that folder alone
    on the path: ``repcam --help``, ``import repcam_core`` and ``repcam-app``, which must answer its
    health check, serve its page and run the installed ``app.py`` (its pages, logo and imports)
    without error."""
    target, cwd = tmp_path / "site-packages", tmp_path / "elsewhere"
    cwd.mkdir()
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                          str(wheel)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    config = tmp_path / "config.json"  # the tiny configuration: a page run generates no large world
    from repcam_testing import tiny_config

    config.write_text(json.dumps(tiny_config().to_dict()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPCAM_", "STREAMLIT_"))}
    env.update(PYTHONPATH=str(target), REPCAM_APP_CONFIG=str(config), REPCAM_CACHE=str(tmp_path / "cache"),
               REPCAM_WARMUP="0", REPCAM_WORKER="0")  # nothing trains in the background here

    def run(*cmd: str) -> str:
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    assert run(str(target / "bin" / "repcam"), "--help").startswith("usage: repcam")
    assert run(sys.executable, "-m", "repcam_core.cli", "--help").startswith("usage: repcam")
    where = run(sys.executable, "-c", "import repcam_core, repcam_app; print(repcam_core.__file__, repcam_app.__file__)")
    assert all(Path(p).is_relative_to(target) for p in where.split()), where

    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(target / "bin" / "repcam-app"), "--port", str(port),
                                   "--server.scriptHealthCheckEnabled", "true"],
                                  cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get_or_none(url + "/_stcore/health") != (200, "ok"):
            assert server.poll() is None, f"repcam-app stopped: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no health check within 60 s: {log.read_text()[-3000:]}"
            time.sleep(0.2)
        status, page = _get(url + "/")
        assert status == 200 and 'id="root"' in page
        # Streamlit runs the main script once in a session of its own: the installed app.py, its
        # st.Page files and its logo must all resolve (a missing page gives 503 "error")
        assert _get(url + "/_stcore/script-health-check") == (200, "ok"), log.read_text()[-3000:]
        assert f"repcam-app: serving {target / SITE / 'app.py'}" in log.read_text()
    finally:
        stop(server, 20)


def _get_or_none(url: str) -> tuple[int, str] | None:
    try:
        return _get(url)
    except OSError:
        return None
