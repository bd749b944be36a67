"""Prebuilt artifacts on the tiny world: a prebuilt directory built here (as ``repcam prebuilt
build`` builds the shipped one, from the tiny configuration instead of the default) is installed
into a fresh cache instead of training, only when the configuration and the data's bytes match, B
only over the shipped model; the switch and damage fall back to training. The shipped directory
itself is checked against the default configuration in ``test_prebuilt_default.py``."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from repcam_core.running import prebuilt
from repcam_core.errors import IntegrityWarning
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.prebuilt import PROVENANCE, Prebuilt
from repcam_testing import tiny_config


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_cache) -> Path:
    """A prebuilt directory of the tiny configuration (trained in the session's tiny cache)."""
    from repcam_core.running.prebuilt.build import build

    out = tmp_path_factory.mktemp("prebuilt") / "tiny"
    build(out, Path(tiny_cache), config=tiny_config())
    return out


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test when a model is trained (binary models excepted when ``allow_binary``)."""
    import repcam_core.running.pipeline as mod

    calls = []
    monkeypatch.setattr(mod, "fit", lambda *a, **k: calls.append(a) or pytest.fail("a model was trained"))
    return calls


def _trained(monkeypatch) -> list:
    import repcam_core.running.pipeline as mod

    calls, real = [], mod.fit
    monkeypatch.setattr(mod, "fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_fresh_cache_installs_the_prebuilt_model_b_and_clusters_without_training(built, tmp_path, tiny_cache,
                                                                                  monkeypatch):
    calls = _trained(monkeypatch)
    p = Pipeline(tiny_config(), cache=tmp_path / "cache", prebuilt=Prebuilt(built))
    source = Pipeline(tiny_config(), cache=tiny_cache, prebuilt=False)
    # the world was generated again here: other mtimes, another fingerprint, the same bytes
    assert p.fingerprint("train") != source.fingerprint("train")
    labels = p.clustering().labels
    assert calls == [], "nothing trained: the model, B and the clusters came from the prebuilt directory"
    np.testing.assert_array_equal(labels, source.clustering().labels)
    np.testing.assert_array_equal(p.similarity(), source.similarity())
    entry = p.cache.entry("multiclass", p.multiclass_key())
    assert (entry / "model.safetensors").read_bytes() == (built / "multiclass" / "model.safetensors").read_bytes()
    shipped = json.loads((entry / PROVENANCE).read_text())
    assert shipped["command"] == "repcam prebuilt build" and {"commit", "date", "torch", "threads", "cpu"} <= set(shipped)
    assert prebuilt.installed(p) == ["multiclass", "similarity", "clustering"]
    p.binary_model(0, 1)  # binary models are trained here, from the installed model
    assert len(calls) == 1


def test_install_copies_every_match_at_once_and_never_trains(built, tmp_path, no_training):
    p = Pipeline(tiny_config(), cache=tmp_path / "cache", prebuilt=Prebuilt(built))
    assert prebuilt.install(p) == ["multiclass", "similarity", "clustering"]
    assert prebuilt.install(p) == ["multiclass", "similarity", "clustering"]  # again: nothing to do
    other = Pipeline(tiny_config(seed=5), cache=tmp_path / "cache", prebuilt=Prebuilt(built))
    assert prebuilt.install(other) == []  # another seed: another model, nothing shipped for it


def test_install_does_not_wait_for_a_training_it_could_not_replace(built, tmp_path):
    """Home installs what is shipped on every run of the page; for a configuration nothing ships
    for, it must return at once even while a worker holds the model's entry lock to train it."""
    import concurrent.futures

    from repcam_core.storage.integrity import cache_lock

    other = Pipeline(tiny_config(seed=5), cache=tmp_path / "cache", prebuilt=Prebuilt(built))
    entry = other.cache.entry("multiclass", other.multiclass_key())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the lock is released before the pool waits
        with cache_lock(other.cache.root, entry):  # a worker "training" the model
            assert pool.submit(prebuilt.install, other).result(timeout=20) == []


def test_another_configuration_or_other_bytes_match_nothing(built, tmp_path):
    shipped = Prebuilt(built)
    assert prebuilt.differences(Pipeline(tiny_config(), cache=tmp_path / "a"), shipped) == {}
    diff = prebuilt.differences(Pipeline(tiny_config(train={"epochs": 4}), cache=tmp_path / "b"), shipped)
    assert set(diff) == {"multiclass", "similarity", "clustering"}
    assert any("train.epochs: 3 -> 4" in line for line in diff["multiclass"])
    # the same world settings with one image's bytes changed (as another JPEG encoder would write it)
    p = Pipeline(tiny_config(), cache=tmp_path / "c")
    record = json.loads((Path(p.dataset.root) / "files.json").read_text())
    record["files"]["JPEGImages/train_00003.jpg"][2] = "00000000"
    from repcam_core.storage.integrity import seal

    (Path(p.dataset.root) / "files.json").write_text(json.dumps(seal({k: v for k, v in record.items()
                                                                       if k != "crc32"})))
    assert prebuilt.portable_key(p, p.multiclass_key()) != shipped.key("multiclass")
    assert not shipped.matches("multiclass", prebuilt.portable_key(p, p.multiclass_key()))


def test_b_is_installed_only_over_the_shipped_model(built, tmp_path, tiny_cache, monkeypatch):
    cache = tmp_path / "cache"
    Pipeline(tiny_config(), cache=cache, prebuilt=False).multiclass_model()  # trained here first
    p = Pipeline(tiny_config(), cache=cache, prebuilt=Prebuilt(built))
    p.similarity()
    assert not prebuilt.is_shipped(p.cache.entry("similarity", p.similarity_key())), \
        "B of the model trained here is computed from that model"
    assert prebuilt.installed(p) == []


@pytest.mark.parametrize("switch", ["env", "argument"])
def test_the_switch_off_trains_from_scratch(built, tmp_path, monkeypatch, switch):
    calls = _trained(monkeypatch)
    if switch == "env":
        monkeypatch.setenv("REPCAM_PREBUILT", "0")
        p = Pipeline(tiny_config(), cache=tmp_path / "cache")
    else:
        p = Pipeline(tiny_config(), cache=tmp_path / "cache", prebuilt=False)
    p.similarity()
    assert len(calls) == 1 and prebuilt.installed(p) == []


def test_the_env_names_another_prebuilt_directory_and_the_cli_switch_turns_it_off(built, tmp_path, monkeypatch,
                                                                                 capsys):
    from repcam_core.cli import main

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_config().to_dict()))
    monkeypatch.setenv("REPCAM_PREBUILT", str(built))
    args = ["similarity", "--config", str(config), "--quiet", "--out", str(tmp_path / "out")]
    assert main([*args, "--cache", str(tmp_path / "a")]) == 0
    p = Pipeline(tiny_config(), cache=tmp_path / "a")
    assert prebuilt.is_shipped(p.cache.entry("similarity", p.similarity_key()))
    assert main([*args, "--cache", str(tmp_path / "b"), "--no-prebuilt"]) == 0
    q = Pipeline(tiny_config(), cache=tmp_path / "b", prebuilt=False)
    assert q.cache.has("similarity", q.similarity_key()) and prebuilt.installed(q) == []


def test_a_damaged_prebuilt_file_is_named_and_the_model_trained_instead(built, tmp_path, monkeypatch):
    copy = tmp_path / "prebuilt"
    shutil.copytree(built, copy)
    model = copy / "multiclass" / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    calls = _trained(monkeypatch)
    p = Pipeline(tiny_config(), cache=tmp_path / "cache", prebuilt=Prebuilt(copy))
    with pytest.warns(IntegrityWarning, match=r"model\.safetensors is damaged .*training it here instead"):
        p.multiclass_model()
    assert len(calls) == 1 and prebuilt.installed(p) == []


def test_cli_check_names_the_command_that_rebuilds(built, tmp_path, capsys):
    """``repcam prebuilt check`` against a directory built from another configuration (the tiny
    one stands in for a stale build): status 1 and the command to run."""
    from repcam_core.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["prebuilt", "check", "--dir", str(built), "--cache", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert code == 1 and "run `repcam prebuilt build`" in out and "multiclass:" in out
    assert main(["prebuilt", "show", "--dir", str(built)]) == 0
    assert "built by `repcam prebuilt build`" in capsys.readouterr().out
