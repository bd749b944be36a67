"""MapStore's cached maps, pinned against maps computed here straight from the CAM engine.

Each source (the multi-class model, a binary pair, the multi-class contrasts computed together
or one at a time) on both splits must hold exactly (bit for bit) the float16 maps of the engine's
own pass, under the cache key earlier versions wrote."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from repcam_testing import tiny_config
from repcam_core.cam import fusion
from repcam_core.cam.engine import contrast_layer_maps, layer_maps
from repcam_core.data.transforms import to_float_tensor
from repcam_core.running.maps import MAP_BATCH, MapStore
from repcam_core import Pipeline

C = 1  # the target class of every check; the tiny world has 6 classes, each with images on both splits


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MapStore:
    """A fresh cache, so that every map below is computed by the store, not found."""
    return MapStore(Pipeline(tiny_config(), cache=tmp_path_factory.mktemp("maps-cache")))


def _reference(p: Pipeline, role: str, per_batch: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """{"single", "multi"} of class C's images on ``role``'s split, from ``per_batch(x)`` -> [B, L, H, W]."""
    split = p.split(role)
    idx = torch.nonzero(split.labels[:, C]).flatten()
    assert len(idx), "the tiny world must hold class C on this split"
    singles, multis = [], []
    for lo in range(0, len(idx), MAP_BATCH):
        maps = per_batch(to_float_tensor(split.images[idx[lo:lo + MAP_BATCH]]))
        singles.append(fusion.last_layer(maps).half())
        multis.append(fusion.multilayer(maps).half())
    return {"single": torch.cat(singles), "multi": torch.cat(multis)}


def _expected_key(p: Pipeline, model_key: dict, output: int, role: str, contrast: int | None = None) -> dict[str, Any]:
    key: dict[str, Any] = {"model": model_key, "target": C, "output": output,
                           "split": {"eval": p.config.eval_split, "calib": p.calibration_split_name}[role],
                           "method": p.config.cam_method, "size": p.config.image_size}  # 32 px: maps at full size
    if role != "eval":
        key["fingerprint"] = p.dataset.fingerprint(key["split"])
    if contrast is not None:
        key["contrast"] = contrast
    return key


def _assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert set(got) == {"single", "multi"}
    for name in ("single", "multi"):
        assert got[name].dtype == torch.float16
        assert torch.equal(got[name], want[name]), name


@pytest.mark.parametrize("role", ["eval", "calib"])
def test_baseline_maps_are_the_engines_maps_of_the_multiclass_model(store, role):
    p = store.p
    got = store.baseline(C, role)
    model = p.multiclass_model()
    size = (p.config.image_size, p.config.image_size)
    _assert_same(got, _reference(p, role, lambda x: layer_maps(model, p.spec.cam_layers, x, C, p.config.cam_method,
                                                               size)[0]))
    assert p.cache.has("maps", _expected_key(p, p.multiclass_key(), C, role))


@pytest.mark.parametrize("role", ["eval", "calib"])
@pytest.mark.parametrize("j", [0, 4])  # C is output 1 of the pair (0, 1) and output 0 of (1, 4)
def test_pair_maps_are_the_engines_maps_of_the_binary_model(store, role, j):
    p = store.p
    got = store.pair(C, j, role)
    a, b = sorted((C, j))
    output = 0 if C == a else 1
    model = p.binary_model(a, b)
    size = (p.config.image_size, p.config.image_size)
    _assert_same(got, _reference(p, role, lambda x: layer_maps(model, p.spec.cam_layers, x, output,
                                                               p.config.cam_method, size)[0]))
    assert store.has_pair(C, j, role)
    assert p.cache.has("maps", _expected_key(p, p.binary_key(a, b), output, role))


@pytest.mark.parametrize("role", ["eval", "calib"])
def test_contrast_maps_together_and_alone_are_the_engines_contrasts(store, role):
    p = store.p
    model = p.multiclass_model()
    size = (p.config.image_size, p.config.image_size)
    together = [0, 3, 5]
    got = store.contrast(C, together, role)
    assert list(got) == together
    for k, j in enumerate(together):
        want = _reference(p, role, lambda x: contrast_layer_maps(model, p.spec.cam_layers, x, C, together,
                                                                 p.config.cam_method, size)[k])
        _assert_same(got[j], want)
        assert p.cache.has("maps", _expected_key(p, p.multiclass_key(), C, role, contrast=j))
    # one more, asked with two cached ones: only it is computed, alone, and all three are returned
    got = store.contrast(C, [3, 2, 0], role)
    assert list(got) == [3, 2, 0]
    alone = _reference(p, role, lambda x: contrast_layer_maps(model, p.spec.cam_layers, x, C, [2],
                                                              p.config.cam_method, size)[0])
    _assert_same(got[2], alone)
    assert p.cache.has("maps", _expected_key(p, p.multiclass_key(), C, role, contrast=2))


def test_a_class_without_images_gets_empty_maps_and_trains_no_model(tmp_path, monkeypatch):
    """No image of the class: empty ``[0, s, s]`` maps, and no model is ever asked for."""
    store = MapStore(Pipeline(tiny_config(), cache=tmp_path))  # its own cache: the empty entries stay there
    p = store.p
    monkeypatch.setattr(store, "indices", lambda c, role="eval": torch.zeros(0, dtype=torch.long))

    def no_model(*_args: object) -> None:
        raise AssertionError("a model was asked for with no image to explain")

    monkeypatch.setattr(p, "binary_model", no_model)
    monkeypatch.setattr(p, "multiclass_model", no_model)
    s = p.config.image_size
    for maps in (store.baseline(C, "eval"), store.pair(C, 2, "eval"), store.contrast(C, [4], "eval")[4]):
        assert {k: (tuple(v.shape), v.dtype) for k, v in maps.items()} == {
            "single": ((0, s, s), torch.float16), "multi": ((0, s, s), torch.float16)}
