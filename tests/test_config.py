"""The typed configuration: validation messages, presets, round trips."""

from __future__ import annotations

import pytest

from repcam_core.config import RunConfig, TrainConfig, config_hash, paper_config
from repcam_core.errors import ConfigError


def test_round_trip_through_dict():
    cfg = RunConfig(seed=3, train=TrainConfig(epochs=5))
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert config_hash(cfg.to_dict()) == config_hash(RunConfig.from_dict(cfg.to_dict()).to_dict())


def test_paper_preset_matches_section_4_2():
    cfg = paper_config()
    assert cfg.image_size == 224 and cfg.train.batch_size == 24 and cfg.train.lr == 1e-4
    assert cfg.train.epochs == 200 and cfg.train.plateau_patience == 5 and cfg.train.plateau_factor == 0.5
    assert cfg.train.binary_max_epochs == 10 and cfg.train.binary_stop_accuracy == 0.95
    assert cfg.sim_backbone == "vgg19" and cfg.n_clusters == 4 and cfg.min_cluster_size == 4
    assert cfg.train.binary_init == "imagenet"


@pytest.mark.parametrize("kwargs, match", [
    ({"threshold": 1.5}, "threshold must be in"),
    ({"n_clusters": 0}, "number of clusters N must be >= 1"),
    ({"device": "tpu"}, "device must be auto, cpu or cuda"),
    ({"preset": "fast"}, "unknown preset 'fast'"),
    ({"image_size": 8}, "image size must be >= 16"),
])
def test_bad_values_are_rejected_with_a_message(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig(**kwargs)


def test_unknown_keys_rejected():
    with pytest.raises(ConfigError, match="unknown configuration keys: colour"):
        RunConfig.from_dict({"colour": "red"})


def test_with_merges_train_fields():
    cfg = RunConfig().with_(seed=1, train={"epochs": 2})
    assert cfg.seed == 1 and cfg.train.epochs == 2 and cfg.train.batch_size == TrainConfig().batch_size
