"""Shared fixtures: a tiny generated world and a pipeline over it with seconds-long training.

Artifacts trained here are shared by every test of the session through one cache directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

TINY_WORLD = {"n_families": 3, "classes_per_family": 2, "train_per_class": 8, "val_per_class": 3,
              "width": 40, "height": 32}


def tiny_config(**overrides):
    """A RunConfig that trains in seconds: 6 classes, 32 px, 2 epochs."""
    from repcam_core.config import RunConfig, TrainConfig

    base = RunConfig(world=TINY_WORLD, image_size=32, n_clusters=3, min_cluster_size=2, n_random=2,
                     device="cpu", train=TrainConfig(epochs=3, binary_max_epochs=2, batch_size=16))
    return base.with_(**overrides) if overrides else base


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """One cache directory for the whole session (artifacts trained once, reused)."""
    return tmp_path_factory.mktemp("repcam-cache")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_cache):
    from repcam_core.pipeline import Pipeline

    return Pipeline(tiny_config(), cache=tiny_cache)
