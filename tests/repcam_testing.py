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
