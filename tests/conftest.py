"""Shared fixtures: a tiny generated world and a pipeline over it with seconds-long training.

Artifacts trained here are shared by every test of the session through one cache directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI and the app do (repcam_core.cli.quiet_threads)

from repcam_testing import tiny_config  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""``../shared/data`` beside the checkout: the real photos and masks (never copied into the project)."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data directory ``../shared/data``: the one way tests find it.

    Absent: the test fails under ``CI=true`` (CI always has it, so a missing copy is a broken
    checkout, not a reason to pass untested) and is skipped elsewhere, saying why."""
    if not SHARED_DATA.is_dir():
        message = f"{SHARED_DATA} is absent (the real photos and masks beside the checkout)"
        if _in_ci():
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


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
    from repcam_testing import SURVIVAL

    if SURVIVAL:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(SURVIVAL.items()))
        terminalreporter.write_line(f"what survives what: {counts}")
