"""Interactive exploration of one image: per-layer maps once (model calls), then any
combination of representative classes, layers and threshold from those cached maps alone.

This is what the app's CAM explorer calls; toggling a class, a layer or the threshold only runs
:func:`fuse` and :func:`iou`, which never touch a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from repcam_core.cam.engine import contrast_layer_maps, layer_maps, normalise
from repcam_core.data.transforms import to_float_tensor
from repcam_core.errors import ConfigError
from repcam_core.running.pipeline import Pipeline


@dataclass
class ImageExplanation:
    """Per-layer maps of one image for target class ``target``.

    Attributes:
        image: uint8 [3, S, S] (cropped).
        target: class index explained.
        baseline: [L, S, S] per-layer maps of the multi-class model.
        per_class: comparison class j -> [L, S, S] per-layer maps of the binary model (target, j).
        contrast: comparison class j -> [L, S, S] per-layer maps of the multi-class model's
            contrast ``logit_target - logit_j`` (the training-free rival, no binary model).
        mask: uint8 [S, S] ground truth (0 bg, 1..C, 255 void) or None for an uploaded image.
        layer_names: the backbone's CAM layers, shallow to deep.
    """

    image: torch.Tensor
    target: int
    baseline: torch.Tensor
    per_class: dict[int, torch.Tensor] = field(default_factory=dict)
    mask: torch.Tensor | None = None
    contrast: dict[int, torch.Tensor] = field(default_factory=dict)
    layer_names: tuple[str, ...] = ()


def _maps(pipeline: Pipeline, model: torch.nn.Module, image: torch.Tensor, output: int) -> torch.Tensor:
    x = to_float_tensor(image[None].to(pipeline.device))
    maps, _ = layer_maps(model, pipeline.spec.cam_layers, x, output, pipeline.config.cam_method)
    return maps[0].cpu()


def explain_image(pipeline: Pipeline, image: torch.Tensor, target: int, comparisons: Sequence[int],
                  mask: torch.Tensor | None = None) -> ImageExplanation:
    """Compute the baseline's and each comparison class's per-layer maps for one image.

    A comparison class whose binary model is not trained yet is trained now (and cached).
    ``image`` is uint8 [3, S, S] at the pipeline's image size.
    """
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ConfigError(f"expected a uint8 [3, S, S] image, got {tuple(image.shape)} {image.dtype}")
    if not 0 <= target < pipeline.num_classes:
        raise ConfigError(f"class index {target} out of range for {pipeline.num_classes} classes")
    expl = ImageExplanation(image=image, target=target, mask=mask, layer_names=tuple(pipeline.spec.cam_layers),
                            baseline=_maps(pipeline, pipeline.multiclass_model(), image, target))
    for j in comparisons:
        add_comparison(pipeline, expl, j)
    return expl


def add_comparison(pipeline: Pipeline, expl: ImageExplanation, j: int) -> None:
    """Add comparison class ``j``'s per-layer maps to ``expl`` (training its model if needed)."""
    if j == expl.target:
        raise ConfigError("a class cannot be its own comparison class")
    if j in expl.per_class:
        return
    a, b = sorted((expl.target, j))
    expl.per_class[j] = _maps(pipeline, pipeline.binary_model(a, b), expl.image, 0 if expl.target == a else 1)


def combine_layers(maps: torch.Tensor, layers: Sequence[int] | None = None, multilayer: bool = True) -> torch.Tensor:
    """One model's map from its per-layer maps [L, S, S] -> [S, S].

    ``multilayer``: (sum of the chosen layers) x (last layer), the paper's "+A"; otherwise the
    last layer alone (Grad-CAM). ``layers`` picks which layers enter the sum (default all).
    """
    if not multilayer:
        return normalise(maps[-1])
    chosen = list(range(maps.shape[0])) if layers is None else list(layers)
    if not chosen:
        return torch.zeros_like(maps[-1])
    return normalise(maps[chosen].sum(0) * maps[-1])


def source_maps(expl: ImageExplanation, source: str = "binary") -> dict[int, torch.Tensor]:
    """Comparison class j -> the per-layer maps [L, S, S] a mode of ``source`` fuses: the binary
    models' (``"binary"``) or the multi-class model's contrasts (``"contrast"``). The one place
    that decides; :func:`fuse`, the paper figures and the explorer ask it."""
    return expl.contrast if source == "contrast" else expl.per_class


def fuse(expl: ImageExplanation, classes: Sequence[int], layers: Sequence[int] | None = None,
         multilayer: bool = True, source: str = "binary") -> torch.Tensor:
    """The fused map [S, S] over the chosen comparison classes (no model call): their binary
    models' maps (``source="binary"``) or the multi-class model's contrasts (``"contrast"``).
    With no class chosen it is the multi-class model's own map (Baseline, or Baseline+A)."""
    if not classes:
        return combine_layers(expl.baseline, layers, multilayer)
    maps = source_maps(expl, source)
    missing = [j for j in classes if j not in maps]
    if missing:
        helper = "add_contrasts" if source == "contrast" else "add_comparison"
        raise ConfigError(f"no {source} maps for comparison class(es) {missing}; call {helper} first")
    return normalise(torch.stack([combine_layers(maps[j], layers, multilayer) for j in classes]).mean(0))


def add_contrasts(pipeline: Pipeline, expl: ImageExplanation, classes: Sequence[int],
                  model: torch.nn.Module | None = None) -> None:
    """Add the contrast maps ``logit_target - logit_j`` of the classes ``classes`` still missing
    (one forward pass, one backward pass each, on an isolated copy of the multi-class model;
    ``model``: such a copy the caller already made, for several images)."""
    todo = [int(j) for j in classes if int(j) not in expl.contrast]
    if expl.target in todo:
        raise ConfigError("a class cannot be its own comparison class")
    if not todo:
        return
    x = to_float_tensor(expl.image[None].to(pipeline.device))
    model = model if model is not None else isolated(pipeline.multiclass_model())
    maps = contrast_layer_maps(model, pipeline.spec.cam_layers, x, expl.target,
                               todo, pipeline.config.cam_method)
    for k, j in enumerate(todo):
        expl.contrast[j] = maps[k, 0].cpu()


def shown_mode(rule: str, multilayer: bool, source: str, fused: bool) -> str:
    """The name of the mode a view shows: ``rule`` is a selection rule's stem (``S-1``, ``Random``,
    ``Rank-a``); without fused classes it is the Baseline (``+A`` when multi-layer)."""
    if not fused:
        return "Baseline" + ("+A" if multilayer else "")
    return ("Contrast-" if source == "contrast" else "") + rule + ("+A" if multilayer else "") + "+F"


def calibrated_threshold(experiment, mode: str) -> float | None:
    """The calibrated threshold of ``mode`` if its result is in the cache (never computes one);
    None when it is not evaluated yet or there is no calibration split."""
    if not experiment.has_result(mode):
        return None
    from repcam_core.method.modes import parse_mode

    return experiment.protocol_values(experiment.evaluate_mode(parse_mode(mode))).calibrated_threshold


def iou(cam: torch.Tensor, mask: torch.Tensor | None, target: int, threshold: float) -> float | None:
    """IoU of ``cam >= threshold`` with the target's ground truth, void ignored; None without a mask."""
    if mask is None:
        return None
    valid = mask != 255
    gt = (mask == target + 1) & valid
    pred = (cam >= threshold) & valid
    union = int((gt | pred).sum())
    return float((gt & pred).sum()) / union if union else float("nan")


# ---------------------------------------------------------------------------------------------
# Helpers for an interactive front end that shares models with background work.


def isolated(model: torch.nn.Module) -> torch.nn.Module:
    """A private copy of ``model`` without forward hooks, so computing its maps cannot interfere
    with (or be disturbed by) another thread computing maps of the shared model at the same time."""
    import copy

    clone = copy.deepcopy(model)
    for m in clone.modules():
        m._forward_hooks.clear()
        m._forward_pre_hooks.clear()
    return clone


def explain_baseline(pipeline: Pipeline, image: torch.Tensor, target: int,
                     mask: torch.Tensor | None = None) -> ImageExplanation:
    """:func:`explain_image` with no comparison class yet, on an isolated copy of the model."""
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ConfigError(f"expected a uint8 [3, S, S] image, got {tuple(image.shape)} {image.dtype}")
    if not 0 <= target < pipeline.num_classes:
        raise ConfigError(f"class index {target} out of range for {pipeline.num_classes} classes")
    model = isolated(pipeline.multiclass_model())
    return ImageExplanation(image=image, target=target, mask=mask, layer_names=tuple(pipeline.spec.cam_layers),
                            baseline=_maps(pipeline, model, image, target))


def explain_many(pipeline: Pipeline, images: Sequence[torch.Tensor], target: int, comparisons: Sequence[int],
                 masks: Sequence[torch.Tensor | None], step: Callable[[int], None] | None = None
                 ) -> list[ImageExplanation]:
    """:func:`explain_image` for several images, on private copies of the models (:func:`isolated`,
    one per model, not per image), so it may run beside background work on the shared models.
    Binary models that are missing are trained (and cached) first. ``step(1)`` after each image."""
    base = isolated(pipeline.multiclass_model())
    pairs = {j: isolated(pipeline.binary_model(*sorted((target, j)))) for j in comparisons if j != target}
    out = []
    for image, mask in zip(images, masks):
        expl = ImageExplanation(image=image, target=target, mask=mask, layer_names=tuple(pipeline.spec.cam_layers),
                                baseline=_maps(pipeline, base, image, target))
        for j, model in pairs.items():
            expl.per_class[j] = _maps(pipeline, model, image, 0 if target < j else 1)
        out.append(expl)
        if step is not None:
            step(1)
    return out


def add_trained_comparison(pipeline: Pipeline, expl: ImageExplanation, j: int) -> bool:
    """Add class ``j``'s maps if its binary model is already trained; never trains. True if present."""
    if j == expl.target:
        raise ConfigError("a class cannot be its own comparison class")
    if j in expl.per_class:
        return True
    a, b = sorted((expl.target, j))
    if not pipeline.has_binary(a, b):
        return False
    model = isolated(pipeline.binary_model(a, b))
    expl.per_class[j] = _maps(pipeline, model, expl.image, 0 if expl.target == a else 1)
    return True


def cached_pairwise(experiment) -> dict | None:
    """The pairwise table (Table 1) if it is already in the cache, else None (never computes).

    ``experiment`` is a :class:`repcam_core.running.experiment.Experiment`.
    """
    return experiment.pairwise() if experiment.has_pairwise() else None


def expected_iou(pairwise, c: int, classes: Sequence[int]) -> float:
    """Expected IoU of class ``c`` fused over ``classes``: the mean of their pairwise IoUs."""
    import numpy as np

    vals = [pairwise[c, j] for j in classes if j != c and np.isfinite(pairwise[c, j])]
    return float(np.mean(vals)) if vals else float("nan")


def topk_oracle(pairwise, c: int, k: int) -> tuple[list[int], float]:
    """The Top-k oracle for class ``c``: the k best classes by pairwise IoU and their mean IoU."""
    from repcam_core.method.selection import select_topk

    best = select_topk(pairwise, c, k)
    return best, expected_iou(pairwise, c, best)
