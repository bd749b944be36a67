"""The CAM engine: every CAM layer's map for a batch from one forward and one backward pass.

Parameters are frozen for the pass (no parameter gradients are computed) and the graph starts at
the first CAM layer, so the backward pass stops there. Hooks and model state live behind context
managers that always restore them, exceptions included.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from repcam_core.cam.methods import CAM_METHODS
from repcam_core.errors import ConfigError
from repcam_core.models.backbones import get_module

EPS = 1e-7


@contextlib.contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode with every parameter's ``requires_grad`` off; both restored on exit."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


@contextlib.contextmanager
def capture(model: nn.Module, layers: Sequence[str]) -> Iterator[list[torch.Tensor]]:
    """Record the outputs of ``layers`` (in that order) during the next forward pass.

    The first layer's output is replaced by a detached leaf that requires grad, so autograd
    tracks only what lies after it. Yields the list the activations are appended to.
    """
    if not layers:
        raise ConfigError("at least one CAM layer is needed")
    acts: list[torch.Tensor] = []
    handles = []

    def hook(index: int):
        def fn(_module: nn.Module, _inp: object, out: torch.Tensor) -> torch.Tensor | None:
            if index == 0:
                out = out.detach().requires_grad_(True)
                acts.append(out)
                return out
            acts.append(out)
            return None

        return fn

    try:
        for i, name in enumerate(layers):
            handles.append(get_module(model, name).register_forward_hook(hook(i)))
        yield acts
    finally:
        for h in handles:
            h.remove()


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each map over its last two dims to [0, 1]. [..., H, W] -> same."""
    flat = maps.flatten(-2)
    lo = flat.min(-1, keepdim=True).values
    flat = flat - lo
    hi = flat.max(-1, keepdim=True).values
    return (flat / (hi + EPS)).view_as(maps)


def layer_maps(
    model: nn.Module,
    layers: Sequence[str],
    images: torch.Tensor,
    targets: torch.Tensor | int,
    method: str = "gradcam",
    size: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-layer class activation maps.

    Args:
        model: a classifier; its train/eval mode and ``requires_grad`` flags are restored after.
        layers: module paths of the CAM layers, shallow to deep.
        images: normalised float input [B, 3, H, W].
        targets: the logit index to explain per image, [B] long or one int for all.
        method: a name in ``CAM_METHODS``.
        size: output (H, W); defaults to the input size.

    Returns:
        maps [B, L, H, W] float32: each layer's map normalised to [0, 1] at its own resolution
        and then bilinearly upsampled (the pytorch-grad-cam convention), and logits [B, n].
    """
    fn = CAM_METHODS.get(method)
    b = images.shape[0]
    if isinstance(targets, int):
        targets = torch.full((b,), targets, dtype=torch.long, device=images.device)
    targets = targets.to(images.device).long()
    size = size or (images.shape[-2], images.shape[-1])
    with frozen_eval(model), capture(model, layers) as acts, torch.enable_grad():
        logits = model(images)
        if targets.min() < 0 or targets.max() >= logits.shape[1]:
            raise ConfigError(f"target index out of range for a model with {logits.shape[1]} outputs")
        score = logits.gather(1, targets[:, None]).sum()
        grads = torch.autograd.grad(score, acts)
    maps = []
    with torch.no_grad():
        for a, g in zip(acts, grads):
            raw = normalise(fn(a.detach().float(), g.float()))
            maps.append(F.interpolate(raw[:, None], size=size, mode="bilinear", align_corners=False)[:, 0])
    return torch.stack(maps, 1), logits.detach()
