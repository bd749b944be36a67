"""Shared test settings: a tiny generated world and a RunConfig that trains in seconds.

A plain module (not a conftest) so every test file can import it by a unique name."""

from __future__ import annotations

TINY_WORLD = {"n_families": 3, "classes_per_family": 2, "train_per_class": 8, "val_per_class": 3, "calib_per_class": 3,
              "width": 40, "height": 32}


def tiny_config(**overrides):
    """A RunConfig that trains in seconds: 6 classes, 32 px, 2 epochs."""
    from repcam_core.config import RunConfig, TrainConfig

    base = RunConfig(world=TINY_WORLD, image_size=32, n_clusters=3, min_cluster_size=2, n_random=2,
                     device="cpu", train=TrainConfig(epochs=3, binary_max_epochs=2, batch_size=16))
    return base.with_(**overrides) if overrides else base


# ---------------------------------------------------------------- what survives what
# Counts of the faults and malformed inputs the tests tried, printed at the end of the session
# (tests/conftest.py) and copied into the README's "What survives what" table.
from collections import Counter  # noqa: E402

SURVIVAL: Counter = Counter()


def survived(what: str, n: int = 1) -> None:
    """Count ``n`` more of ``what`` (e.g. "kills survived") for the session summary."""
    SURVIVAL[what] += n


def no_traceback(*outputs: str) -> None:
    """Assert that a process's output holds no Python traceback (counted either way)."""
    seen = sum("Traceback (most recent call last)" in o for o in outputs)
    survived("process outputs checked", len(outputs))
    survived("tracebacks seen", seen)
    assert not seen, "a traceback:\n" + "\n".join(outputs)
