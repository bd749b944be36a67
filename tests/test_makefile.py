"""``make test``'s Chromium step: a failed install stops it under ``CI=true`` and only warns
elsewhere. The step runs for real with ``apt-get`` replaced by one that fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("ci, fails", [("true", True), ("1", True), ("", False), ("false", False)])
def test_a_failed_chromium_install_fails_make_under_ci_only(tmp_path, ci, fails):
    if shutil.which("make") is None:
        pytest.fail("make is missing: `make test` itself needs it", pytrace=False)
    stub = tmp_path / "apt-get"
    stub.write_text("#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit 100\n")
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "CI": ci}
    # -B: run the step even where /usr/bin/chromium exists; only the chromium target, nothing else
    res = subprocess.run(["make", "-B", "-f", str(ROOT / "Makefile"), "/usr/bin/chromium"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    if fails:
        assert res.returncode != 0, res.stdout + res.stderr
        assert "error: could not install chromium" in res.stderr and f"CI={ci}" in res.stderr
    else:
        assert res.returncode == 0, res.stdout + res.stderr
        assert "warning: could not install chromium; the browser test will be skipped" in res.stdout
