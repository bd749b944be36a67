"""Shared fixtures: a tiny generated world and a pipeline over it with seconds-long training.

Artifacts trained here are shared by every test of the session through one cache directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI and the app do (repcam_core.cli.quiet_threads)

from repcam_testing import SURVIVAL, missing, survived, tiny_config  # noqa: E402

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
    passed (every assertion held), never before."""
    report = yield
    if report.when == "call" and report.passed:
        for mark in item.iter_markers("survives"):
            survived(*mark.args)
    return report


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """One cache directory for the whole session (artifacts trained once, reused)."""
    return tmp_path_factory.mktemp("repcam-cache")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_cache):
    from repcam_core.pipeline import Pipeline

    return Pipeline(tiny_config(), cache=tiny_cache)


def pytest_terminal_summary(terminalreporter) -> None:
    """One line of what the fault and fuzz tests tried (the README's "What survives what")."""
    if SURVIVAL:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(SURVIVAL.items()))
        terminalreporter.write_line(f"what survives what: {counts}")
