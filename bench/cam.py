"""1. The CAM engine against pytorch-grad-cam (PyPI ``grad-cam``), and (with ``floor``) against a
plain forward pass.

Same model object state (a deep copy for pytorch-grad-cam, whose hooks stay registered while its
CAM object lives), same target layers (every CAM layer of the backbone), same batch, same target
class, CPU.

What is timed:
* ours: ``layer_maps(model, cam_layers, x, target)`` -> [B, L, H, W] per-layer maps and logits;
* theirs: ``GradCAM(model, target_layers=all L layers)(x, targets)``, their natural call for L
  layers: one forward, one ``backward`` and ``compute_cam_per_layer`` (the same per-layer maps,
  normalised then ``cv2.resize``d), then their mean over layers. The per-layer maps are read
  from the ``aggregate_multi_layers`` argument (a subclass that only keeps a reference), so
  the timed call is exactly their own;
* forward: ``model(x)`` under ``torch.no_grad()``, the model as given (NCHW);
* forward (channels-last): the same with channels-last weights and input, the fastest plain
  forward found on CPU, reported as a second, stricter floor.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from bench.common import Report, Settings, interleaved

NUM_CLASSES = 20
TARGET = 3
FULL = [("tinynet", 64, 32), ("tinynet", 224, 8), ("resnet18", 224, 8), ("mobilenet_v2", 224, 8),
        ("resnet50", 224, 4), ("vgg19", 224, 4)]
SMOKE = [("tinynet", 64, 4), ("resnet18", 64, 1), ("mobilenet_v2", 64, 1), ("resnet50", 64, 1), ("vgg19", 64, 1)]

_CACHE: dict[tuple, dict[str, Any]] = {}


def case_key(name: str, size: int) -> str:
    return name if size == (64 if name == "tinynet" else 224) else f"{name}@{size}"


def _their_cam(model: torch.nn.Module, layers: tuple[str, ...]):
    from pytorch_grad_cam import GradCAM

    from repcam_core.models.backbones import get_module

    class PerLayerGradCAM(GradCAM):
        """GradCAM that keeps a reference to the per-layer maps it aggregates (no extra work)."""

        per_layer: list[np.ndarray] = []

        def aggregate_multi_layers(self, cam_per_target_layer):
            self.per_layer = cam_per_target_layer
            return super().aggregate_multi_layers(cam_per_target_layer)

    return PerLayerGradCAM(model, [get_module(model, name) for name in layers])


def measure(name: str, size: int, batch: int, settings: Settings) -> dict[str, Any]:
    """Time ours, theirs and the two forwards round-robin on one case (memoised per run)."""
    key = (name, size, batch, settings.repeats)
    if key in _CACHE:
        return _CACHE[key]
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from repcam_core.cam.engine import layer_maps
    from repcam_core.models.backbones import BACKBONES, create_model

    layers = BACKBONES.get(name).cam_layers
    model = create_model(name, NUM_CLASSES, seed=0).eval()
    theirs_model = copy.deepcopy(model)
    cl_model = copy.deepcopy(model).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=gen)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    cam = _their_cam(theirs_model, layers)
    targets = [ClassifierOutputTarget(TARGET)] * batch

    def ours():
        return layer_maps(model, layers, x, TARGET)

    def theirs():
        return cam(x, targets)

    def forward():
        with torch.no_grad():
            return model(x)

    def forward_cl():
        with torch.no_grad():
            return cl_model(x_cl)

    maps, _ = ours()
    theirs()
    their_maps = torch.from_numpy(np.concatenate(cam.per_layer, 1))
    per_layer_diff = (maps - their_maps).abs().amax((0, 2, 3)).tolist()
    t = interleaved({"ours": ours, "theirs": theirs, "forward": forward, "forward_cl": forward_cl},
                    settings.repeats, settings.warmup)
    cam.activations_and_grads.release()
    out = {"backbone": name, "size": size, "batch": batch, "layers": len(layers), **t,
           "max_abs_diff": max(per_layer_diff), "per_layer_diff": per_layer_diff}
    _CACHE[key] = out
    return out


def cases(settings: Settings) -> list[tuple[str, int, int]]:
    return SMOKE if settings.smoke else FULL


def run(settings: Settings) -> Report:
    rep = Report("cam")
    rows = []
    ratio, diff = {}, {}
    for name, size, batch in cases(settings):
        m = measure(name, size, batch, settings)
        k = case_key(name, size)
        ratio[k] = m["theirs"] / m["ours"]
        diff[k] = m["max_abs_diff"]
        rows.append([k, f"{size}px x{batch}", m["layers"], batch / m["ours"], batch / m["theirs"], ratio[k],
                     "yes" if ratio[k] >= 1.5 else "NO", f"{m['max_abs_diff']:.1e}"])
    rep.table("CAM engine vs pytorch-grad-cam (all CAM layers, per-layer maps, CPU)",
              ["backbone", "batch", "L", "ours img/s", "grad-cam img/s", "ours/theirs", ">= 1.5x", "max |diff|"],
              rows)
    rep.figures = {"cam_vs_gradcam": ratio, "max_abs_diff": diff}
    return rep
