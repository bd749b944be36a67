"""Every registered backbone builds, exposes its CAM layers in order, and explains a batch."""

from __future__ import annotations


import pytest
import torch

from repcam_core.cam.engine import layer_maps
from repcam_core.errors import ConfigError, UnknownNameError, WeightsFileError, WeightsNotFoundError
from repcam_core.models.backbones import BACKBONES, create_model, get_module, num_outputs, replace_head
from repcam_core.models.weights import weights_path, weights_status

EXPECTED_LAYERS = {"resnet18": 4, "resnet50": 4, "resnet101": 4, "resnet152": 4, "vgg19": 5,
                   "mobilenet_v2": 4, "tinynet": 4, "efficientnet_lite0": 4}


def test_registry_holds_the_papers_backbones_and_the_small_default():
    assert set(EXPECTED_LAYERS) <= set(BACKBONES.names())


@pytest.mark.parametrize("name", BACKBONES.names())
def test_backbone_builds_and_explains(name):
    model = create_model(name, 3, seed=0)
    spec = BACKBONES.get(name)
    assert len(spec.cam_layers) == EXPECTED_LAYERS[name]
    x = torch.randn(2, 3, 64, 64)
    maps, logits = layer_maps(model, spec.cam_layers, x, 1)
    assert logits.shape == (2, 3)
    assert maps.shape == (2, len(spec.cam_layers), 64, 64)
    assert torch.isfinite(maps).all()
    with torch.no_grad():  # the engine's CPU fast path (fused BatchNorm, channels-last) keeps the forward,
        ref = model.eval()(x)  # to float rounding relative to the logits' scale (random deep nets reach 1e4)
    assert (logits - ref).abs().max() <= 1e-4 * (1 + ref.abs().max())


@pytest.mark.parametrize("name", ["resnet18", "vgg19", "mobilenet_v2", "tinynet", "efficientnet_lite0"])
def test_cam_layers_get_coarser_with_depth(name):
    model = create_model(name, 2).eval()
    sizes = []
    hooks = [get_module(model, l).register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
             for l in BACKBONES.get(name).cam_layers]
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_replace_head_changes_outputs_only():
    model = create_model("resnet18", 5)
    before = model.layer1[0].conv1.weight.clone()
    replace_head(model, BACKBONES.get("resnet18"), 2)
    assert num_outputs(model, BACKBONES.get("resnet18")) == 2
    assert torch.equal(before, model.layer1[0].conv1.weight)


def test_unknown_backbone_lists_choices():
    with pytest.raises(UnknownNameError, match="unknown backbone 'resnet19'.*resnet18"):
        create_model("resnet19", 3)


def test_too_few_classes():
    with pytest.raises(ConfigError, match="at least 2 classes"):
        create_model("tinynet", 1)


def test_missing_imagenet_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=r"resnet18-f37072fd\.pth"):
        create_model("resnet18", 3, init="imagenet")


def test_imagenet_weights_load_from_the_local_torch_cache(tmp_path, monkeypatch):
    """A state dict saved under torchvision's expected file name is what the model gets."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    spec = BACKBONES.get("resnet18")
    path = weights_path(spec)
    assert path is not None and str(path).startswith(str(tmp_path))
    path.parent.mkdir(parents=True)
    torch.manual_seed(123)
    source = create_model("resnet18", 1000, seed=123)
    torch.save(source.state_dict(), path)
    model = create_model("resnet18", 4, init="imagenet", seed=0)
    assert torch.equal(model.layer3[1].conv2.weight, source.layer3[1].conv2.weight)
    assert model.fc.out_features == 4
    status = {row.backbone: row.present for row in weights_status(BACKBONES.get(n) for n in BACKBONES.names())}
    assert status["resnet18"] and not status["resnet50"] and not status["tinynet"]


def test_another_models_weights_under_the_expected_name_are_one_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights_path(BACKBONES.get("resnet18"))
    path.parent.mkdir(parents=True)
    torch.save(create_model("mobilenet_v2", 1000).state_dict(), path)
    with pytest.raises(WeightsFileError, match=rf"{path}.* do not fit resnet18: missing \d+ .*unexpected \d+"):
        create_model("resnet18", 3, init="imagenet")
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsFileError, match=rf"cannot read ImageNet weights {path}"):
        create_model("resnet18", 3, init="imagenet")


def test_tinynet_has_no_imagenet_weights():
    with pytest.raises(WeightsNotFoundError, match="no ImageNet weights"):
        create_model("tinynet", 3, init="imagenet")
