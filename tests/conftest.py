"""Shared fixtures: a tiny generated world and a pipeline over it with seconds-long training.

Artifacts trained here are shared by every test of the session through one cache directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI and the app do (repcam_core.cli.quiet_threads)

from repcam_testing import PHOTOS_RUN_ARGS, SURVIVAL, missing, skip_fails_in_ci, survived, tiny_config  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""``../shared/data`` beside the checkout: the real photos and masks (never copied into the project)."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data directory ``../shared/data``: the one way tests find it.

    Absent: the test fails under ``CI=true`` (CI always has it, so a missing copy is a broken
    checkout, not a reason to pass untested) and is skipped elsewhere, saying why."""
    if not SHARED_DATA.is_dir():
        missing(f"{SHARED_DATA} is absent (the real photos and masks beside the checkout)")
    return SHARED_DATA


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """``@pytest.mark.survives("what")``: count the test in "what survives what" once its call
    passed (every assertion held), never before. Under ``CI=true`` a skip is a failure."""
    report = yield
    skip_fails_in_ci(report)
    if report.when == "call" and report.passed:
        for mark in item.iter_markers("survives"):
            survived(*mark.args)
    return report


@dataclass(frozen=True)
class PhotosRun:
    """One ``repcam run`` process on real photos: its command, output, results JSON, and the
    configuration and cache it used (which the app tests serve)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    results: dict
    config_file: Path
    cache: Path


@pytest.fixture(scope="session")
def msrc_photos_run(shared_data, tmp_path_factory) -> PhotosRun:
    """``repcam run`` (every mode group, the default) in a child process on four MSRC-v2 classes
    with the photos preset's real ImageNet weights (:data:`repcam_testing.PHOTOS_RUN_ARGS`), once per
    session: 15-16 s on 2 CPU cores. Its configuration is written as ``config.json`` (the
    ``config`` the results record), so the app tests open exactly what the run cached."""
    import json
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("msrc-photos")
    args = [sys.executable, "-m", "repcam_core.cli", "run", "--dataset", f"voc:{shared_data / 'msrc-v2'}",
            *PHOTOS_RUN_ARGS, "--cache", str(root / "cache"), "--out", str(root / "out"), "--json", "--quiet"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=600)
    results_file = root / "out" / "results.json"
    results = json.loads(results_file.read_text()) if res.returncode == 0 and results_file.is_file() else {}
    config_file = root / "config.json"
    config_file.write_text(json.dumps(results.get("config", {})))
    return PhotosRun(args, res.returncode, res.stdout, res.stderr, results, config_file, root / "cache")


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """One cache directory for the whole session (artifacts trained once, reused)."""
    return tmp_path_factory.mktemp("repcam-cache")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_cache):
    from repcam_core.running.pipeline import Pipeline

    return Pipeline(tiny_config(), cache=tiny_cache)


def pytest_terminal_summary(terminalreporter) -> None:
    """One line of what the fault and fuzz tests tried (docs/reliability.md, "What survives what")."""
    if SURVIVAL:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(SURVIVAL.items()))
        terminalreporter.write_line(f"what survives what: {counts}")
