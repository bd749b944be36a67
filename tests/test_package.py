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
            "import repcam_core.experiment, repcam_core.explore; print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_no_module_is_a_god_file():
    big = {str(p.relative_to(CORE)): n for p in CORE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert big == {}
