"""Package hygiene: a cheap import and a core that never imports the UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "repcam_core"


def test_importing_the_package_pulls_in_neither_torch_nor_streamlit():
    code = "import sys, repcam_core; print('torch' in sys.modules, 'streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_core_sources_never_import_streamlit():
    offenders = [str(p) for p in CORE.rglob("*.py") if "import streamlit" in p.read_text()
                 or "from streamlit" in p.read_text()]
    assert offenders == []


def test_running_the_whole_cli_imports_no_streamlit():
    code = ("import sys; from repcam_core.cli import make_parser; make_parser(); "
            "import repcam_core.running.experiment, repcam_core.running.explore; print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_no_module_is_a_god_file():
    big = {str(p.relative_to(CORE)): n for p in CORE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert big == {}


def test_a_run_that_finds_everything_cached_never_imports_torch(tmp_path):
    """The warm path (keys, cached results and protocols) is torch-free: a warm ``repcam run``
    stays well under a second, where importing torch alone takes one or two."""
    from repcam_testing import TINY_WORLD

    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import generate_world

    world = generate_world(tmp_path / "world", WorldConfig(**TINY_WORLD))
    args = ["run", "--dataset", str(world), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
            "--modes", "Baseline,S-1+A+F,Contrast-S-1+F", "--image-size", "32", "--epochs", "2", "--binary-epochs",
            "1", "--batch-size", "16", "--clusters", "3", "--min-cluster-size", "2", "--device", "cpu", "--quiet",
            "--json"]
    cold = subprocess.run([sys.executable, "-m", "repcam_core.cli", *args], capture_output=True, text=True)
    assert cold.returncode == 0, cold.stderr[-2000:]
    code = ("import sys, io, contextlib; from repcam_core.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()) as out: rc = main({args!r})\n"
            "print(rc, 'torch' in sys.modules); print(out.getvalue().strip().splitlines()[-1])")
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    status, result = warm.stdout.splitlines()[:2]
    assert status == "0 False", warm.stderr[-2000:]
    assert result == cold.stdout.strip().splitlines()[-1]  # and the same figures
