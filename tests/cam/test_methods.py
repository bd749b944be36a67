"""Per-layer map methods: every registered one on a real backbone, and CAM against its
definition from the fc weights."""

from __future__ import annotations

import pytest
import torch

from repcam_core.cam.engine import layer_maps, normalise
from repcam_core.cam.methods import CAM_METHODS
from repcam_core.models.backbones import BACKBONES, create_model


def test_registry_has_the_alternatives():
    assert {"gradcam", "gradcam++", "layercam", "cam"} <= set(CAM_METHODS.names())


@pytest.mark.parametrize("method", CAM_METHODS.names())
def test_every_method_gives_finite_maps_in_unit_range(method):
    torch.manual_seed(0)
    acts, grads = torch.randn(2, 5, 6, 6).relu(), torch.randn(2, 5, 6, 6)
    raw = CAM_METHODS.get(method)(acts, grads)
    assert raw.shape == (2, 6, 6) and torch.isfinite(raw).all() and (raw >= 0).all()
    model = create_model("tinynet", 3, seed=1)
    maps, _ = layer_maps(model, BACKBONES.get("tinynet").cam_layers, torch.randn(2, 3, 32, 32), 1, method)
    assert maps.shape == (2, 4, 32, 32) and maps.min() >= 0 and maps.max() <= 1 + 1e-6


@pytest.mark.parametrize("backbone", ["resnet18", "tinynet"])
def test_cam_at_the_last_layer_is_zhous_cam_from_the_fc_weights(backbone):
    torch.manual_seed(0)
    model = create_model(backbone, 4, seed=2).eval()
    spec = BACKBONES.get(backbone)
    x = torch.randn(2, 3, 64, 64)
    feats = []
    hook = model.get_submodule(spec.cam_layers[-1]).register_forward_hook(lambda m, i, o: feats.append(o))
    with torch.no_grad():
        model(x)
    hook.remove()
    w = model.get_submodule(spec.head).weight[3]  # class 3's fc weights [K]
    expected = normalise(torch.einsum("k,bkhw->bhw", w, feats[0]))  # min-max, no ReLU (Zhou)
    got = CAM_METHODS.get("cam")(feats[0], torch.zeros_like(feats[0]) + w[None, :, None, None] / feats[0][0, 0].numel())
    assert torch.allclose(normalise(got), expected, atol=1e-5)
    maps, _ = layer_maps(model, spec.cam_layers, x, 3, "cam", size=tuple(feats[0].shape[-2:]))
    assert torch.allclose(maps[:, -1], expected, atol=1e-4)
