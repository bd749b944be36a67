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
