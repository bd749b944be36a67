"""On CI a skipped test is a failure: a missing install, data set or platform feature must not
pass untested (tests/conftest.py applies ``repcam_testing.skip_fails_in_ci`` to every report)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "import pytest\nfrom repcam_testing import skip_fails_in_ci\n\n"
        "@pytest.hookimpl(wrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    report = yield\n    skip_fails_in_ci(report)\n    return report\n")
    (tmp_path / "test_probe.py").write_text(
        "import pytest\n\n"
        "def test_skips_in_the_call():\n    pytest.skip('no chromium here')\n\n"
        "@pytest.mark.skipif(True, reason='not on this platform')\ndef test_skipped_by_a_marker():\n    pass\n\n"
        "def test_imports_what_is_not_installed():\n    pytest.importorskip('no_such_module_here')\n\n"
        "@pytest.mark.xfail(reason='known')\ndef test_expected_to_fail():\n    assert False\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfs", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_under_ci_every_kind_of_skip_fails_naming_its_reason(tmp_path):
    out = _run(tmp_path, "true")
    assert out.returncode == 1, out.stdout
    assert "2 failed, 1 xfailed, 1 error" in out.stdout, out.stdout  # a marker's skip fails at set-up
    for reason in ("no chromium here", "not on this platform", "could not import 'no_such_module_here'"):
        assert f"skipped under CI=true, where every test must run: Skipped: {reason}" in out.stdout, out.stdout


def test_outside_ci_a_skip_stays_a_skip(tmp_path):
    for ci in (None, "false", "0"):
        out = _run(tmp_path, ci)
        assert out.returncode == 0, out.stdout
        assert "3 skipped, 1 xfailed" in out.stdout, out.stdout
