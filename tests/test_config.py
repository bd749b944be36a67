"""The typed configuration: validation messages, presets, round trips."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from repcam_core.running.config import RunConfig, TrainConfig, paper_config
from repcam_core.storage.cache import config_hash
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


MALFORMED = {
    "not JSON": ("{image_size: 32", "is not valid JSON: Expecting property name"),
    "a list": ("[1, 2]", "a configuration is a JSON object of RunConfig fields, got list"),
    "a string for a number": ('{"image_size": "big"}', "'image_size' must be an integer, got 'big'"),
    "true for a number": ('{"threshold": true}', "'threshold' must be a number, got True"),
    "an unknown key": ('{"colour": 1}', "unknown configuration keys: colour"),
    "a bad train value": ('{"train": {"binary_init": "imagenet1k"}}', "'train.binary_init' must be one of"),
    "a bad world": ('{"world": {"n_families": "four"}}', "'world.n_families' must be an integer"),
    "an impossible world": ('{"world": {"n_families": 1}}', "n_families must be >= 2"),
    "out of range": ('{"image_size": 4}', "image size must be >= 16"),
    "nested too deeply": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "not text": (b"\xff\xfe{\x00", "is not UTF-8 text"),
    "missing": (None, "cannot read the configuration file"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_configuration_file_is_one_line_naming_it(case, tmp_path):
    from repcam_core.running.config import load_config_file
    from repcam_testing import survived

    text, message = MALFORMED[case]
    path = tmp_path / "config.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(path) in str(err.value) and message in str(err.value) and "\n" not in str(err.value)
    survived("malformed configurations survived (one message naming the file)")


def test_the_cli_reads_a_configuration_file_and_options_override_it(tmp_path, capsys):
    import argparse

    from repcam_core.cli import main
    from repcam_core.cli.common import add_common, build_config

    path = tmp_path / "config.json"
    path.write_text(json.dumps(RunConfig(image_size=48, seed=3, world={"n_families": 2}).to_dict()))
    parser = argparse.ArgumentParser()
    add_common(parser)
    cfg = build_config(parser.parse_args(["--config", str(path), "--seed", "5"]))
    assert (cfg.image_size, cfg.seed, dict(cfg.world)) == (48, 5, {"n_families": 2})
    path.write_text('{"image_size": "big"}')
    assert main(["run", "--config", str(path), "--cache", str(tmp_path / "c"), "--quiet"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("repcam: error:")]
    assert str(path) in line and "'image_size' must be an integer" in line
    assert main(["run", "--config", str(path), "--preset", "paper", "--cache", str(tmp_path / "c")]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_partial_configuration_file_takes_what_it_leaves_out_from_its_preset(tmp_path):
    from repcam_core.running.config import load_config_file, photos_config

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"preset": "photos", "dataset": "pets:/data/pets", "train": {"epochs": 1}}))
    cfg = load_config_file(path)
    want = photos_config(dataset="pets:/data/pets")
    assert cfg.backbone == "efficientnet_lite0" and cfg.image_size == 224 and cfg.dataset == "pets:/data/pets"
    assert cfg.train == replace(want.train, epochs=1)  # the preset's training, one field changed
    for whole in (photos_config(seed=3), paper_config(), RunConfig(image_size=48)):  # a whole file: itself
        path.write_text(json.dumps(whole.to_dict()))
        assert load_config_file(path) == whole
    path.write_text(json.dumps({"preset": "photos", "train": {"epochs": "many"}}))
    with pytest.raises(ConfigError, match="epochs"):
        load_config_file(path)
