"""The CAM engine: every CAM layer's map for a batch from one forward and one backward pass.

Parameters are frozen for the pass (no parameter gradients are computed) and the graph starts at
the first CAM layer, so the backward pass stops there. Hooks and model state live behind context
managers that always restore them, exceptions included.
"""

from __future__ import annotations

import contextlib
import functools
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


def normalise_(maps: torch.Tensor) -> torch.Tensor:
    """In-place :func:`normalise` of a float tensor (no copies); returns ``maps``.

    Bitwise equal to :func:`normalise`: the same subtraction, the same division by (max + EPS).
    """
    flat = maps.view(*maps.shape[:-2], -1) if maps.is_contiguous() else maps.flatten(-2)
    flat.sub_(flat.amin(-1, keepdim=True))
    flat.div_(flat.amax(-1, keepdim=True).add_(EPS))
    if flat.data_ptr() != maps.data_ptr():
        maps.copy_(flat.view_as(maps))
    return maps


def use_channels_last(model: nn.Module, layers: Sequence[str], images: torch.Tensor) -> bool:
    """Whether the engine runs the pass channels-last: on CPU, where oneDNN's NHWC convolutions
    (forward and input-gradient) are up to 2x faster than NCHW ones (tinynet, MobileNet-v2).

    Not when a max-pool is registered after the first CAM layer (VGG-19): NHWC convolutions round
    differently, and where a pooling window holds near-equal maxima that flips which element
    receives the gradient; through the later ReLUs this moved VGG-19's shallow maps by up to
    1e-3 against an NCHW or float64 computation (and pytorch-grad-cam). A max-pool before the
    first CAM layer (ResNet's stem) is outside the backward graph and does not matter. (Module
    registration order stands in for execution order, as it does in every registered backbone.)
    On CUDA the caller (``train.fit``) already keeps models channels-last.
    """
    if images.device.type != "cpu" or images.ndim != 4:
        return False
    first = get_module(model, layers[0]) if layers else None
    seen_first = False
    for m in model.modules():
        seen_first = seen_first or m is first
        if seen_first and isinstance(m, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)):
            return False
    return True


@contextlib.contextmanager
def channels_last(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Give every 4-D parameter channels-last strides for the block (``enabled``), or plain
    contiguous NCHW strides (not ``enabled``: e.g. a model left channels-last by ``train.fit``);
    the original tensors are put back on exit. Values never change, only their memory layout."""
    fmt = torch.channels_last if enabled else torch.contiguous_format
    swapped: list[tuple[nn.Parameter, torch.Tensor]] = []
    try:
        for p in model.parameters():
            if p.ndim == 4 and not p.is_contiguous(memory_format=fmt):
                swapped.append((p, p.data))
                p.data = p.data.contiguous(memory_format=fmt)
        yield model
    finally:
        for p, data in swapped:
            p.data = data


def _bn_affine(scale: torch.Tensor, shift: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(shift, x, scale)


def _bn_affine_then(after: nn.Module, scale: torch.Tensor, shift: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return after(torch.addcmul(shift, x, scale))


def _after_batchnorm(m: nn.Module) -> nn.Module | None:
    """What an eval BatchNorm module applies after its affine map: ``nn.Identity()`` for a plain
    ``nn.BatchNorm2d``, dropout then activation for timm's ``BatchNormAct2d`` (EfficientNet-Lite0),
    None for any other subclass (its forward may do more: it is left alone)."""
    if type(m) is nn.BatchNorm2d:
        return nn.Identity()
    if type(m).__name__ == "BatchNormAct2d" and type(m).__module__.startswith("timm."):
        return nn.Sequential(m.drop, m.act)
    return None


@contextlib.contextmanager
def affine_batchnorm(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Run every eval-mode 2-D BatchNorm as one fused ``x * scale + shift`` for the block.

    In eval mode BatchNorm is exactly that per-channel affine map (scale = weight / sqrt(var +
    eps), shift = bias - mean * scale); as one ``addcmul`` its forward and its input gradient are
    single elementwise passes, cheaper than ``native_batch_norm`` and its backward on CPU (about
    2x on channels-last tensors). Values agree to float rounding. timm's ``BatchNormAct2d`` keeps
    its activation after the affine map; other subclasses, modules in training mode and modules
    without running statistics are left alone; the original ``forward`` is restored on exit.
    """
    patched: list[nn.Module] = []
    try:
        if enabled:
            for m in model.modules():
                after = _after_batchnorm(m)
                if (after is not None and not m.training and m.running_var is not None
                        and "forward" not in m.__dict__):
                    with torch.no_grad():
                        scale = torch.rsqrt(m.running_var + m.eps)
                        if m.weight is not None:
                            scale = scale * m.weight
                        shift = -m.running_mean * scale
                        if m.bias is not None:
                            shift = shift + m.bias
                    fused = (functools.partial(_bn_affine, scale[:, None, None], shift[:, None, None])
                             if isinstance(after, nn.Identity) else
                             functools.partial(_bn_affine_then, after, scale[:, None, None], shift[:, None, None]))
                    m.forward = fused
                    patched.append(m)
        yield model
    finally:
        for m in patched:
            del m.forward


def layer_maps(
    model: nn.Module,
    layers: Sequence[str],
    images: torch.Tensor,
    targets: torch.Tensor | int,
    method: str = "gradcam",
    size: tuple[int, int] | None = None,
    contrast: torch.Tensor | int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-layer class activation maps.

    Args:
        model: a classifier; its train/eval mode and ``requires_grad`` flags are restored after.
        layers: module paths of the CAM layers, shallow to deep.
        images: normalised float input [B, 3, H, W].
        targets: the logit index to explain per image, [B] long or one int for all.
        method: a name in ``CAM_METHODS``.
        size: output (H, W); defaults to the input size.
        contrast: explain ``logit[target] - logit[contrast]`` instead of ``logit[target]``
            ([B] long or one int; see :func:`contrast_layer_maps`).

    Returns:
        maps [B, L, H, W] float32: each layer's map normalised to [0, 1] at its own resolution
        and then bilinearly upsampled (the pytorch-grad-cam convention), and logits [B, n].

    Speed (see ``bench/RESULTS.md``): on CPU the pass runs channels-last (input and conv weights,
    restored after) with eval BatchNorms as one fused affine op (:func:`affine_batchnorm`); each layer's map is normalised in place at feature resolution and upsampled
    straight into its slot of the preallocated output.
    """
    fn = CAM_METHODS.get(method)
    targets = _as_targets(targets, images)
    size = size or (images.shape[-2], images.shape[-1])
    with _recording(model, layers, images) as (run, acts):
        logits = run()
        _check_targets(targets, logits)
        score = logits.gather(1, targets[:, None]).sum()
        if contrast is not None:
            other = _as_targets(contrast, images)
            _check_targets(other, logits)
            score = score - logits.gather(1, other[:, None]).sum()
        grads = torch.autograd.grad(score, acts)
    return _maps(fn, acts, grads, size), logits.detach()


def contrast_layer_maps(
    model: nn.Module,
    layers: Sequence[str],
    images: torch.Tensor,
    target: int,
    others: Sequence[int],
    method: str = "gradcam",
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Per-layer maps of the contrast ``logit[target] - logit[j]`` for every ``j`` in ``others``.

    The idea of Finer-CAM (Zhang et al., CVPR 2025, comparison strength 1): explaining the
    difference to a similar class suppresses the evidence the two classes share. It needs no
    model beyond the classifier itself, so it is the training-free rival of the binary models.
    One forward pass and one backward pass per ``j`` (the graph is kept between them); each
    backward is the exact gradient of that contrast, so any CAM method applies unchanged.

    Returns:
        maps [J, B, L, H, W] float32, in the order of ``others``, normalised per layer as in
        :func:`layer_maps` (whose ``contrast=j`` gives the same maps one ``j`` at a time).
    """
    fn = CAM_METHODS.get(method)
    size = size or (images.shape[-2], images.shape[-1])
    b = images.shape[0]
    out = torch.empty((len(others), b, len(layers), *size), dtype=torch.float32, device=images.device)
    if not len(others):
        return out
    with _recording(model, layers, images) as (run, acts):
        logits = run()
        _check_targets(torch.tensor([target, *others]), logits)
        for k, j in enumerate(others):
            if j == target:
                raise ConfigError(f"a class cannot be contrasted with itself (class {j})")
            score = (logits[:, target] - logits[:, j]).sum()
            grads = torch.autograd.grad(score, acts, retain_graph=k + 1 < len(others))
            out[k] = _maps(fn, acts, grads, size)
    return out


def _as_targets(targets: torch.Tensor | int, images: torch.Tensor) -> torch.Tensor:
    if isinstance(targets, int):
        return torch.full((images.shape[0],), targets, dtype=torch.long, device=images.device)
    return targets.to(images.device).long()


def _check_targets(targets: torch.Tensor, logits: torch.Tensor) -> None:
    if targets.min() < 0 or targets.max() >= logits.shape[1]:
        raise ConfigError(f"target index out of range for a model with {logits.shape[1]} outputs")


@contextlib.contextmanager
def _recording(model: nn.Module, layers: Sequence[str], images: torch.Tensor):
    """The model prepared for a map pass (frozen eval, channels-last and fused BatchNorm on CPU,
    CAM layers captured, grad enabled); yields ``(run, acts)`` where ``run()`` is the forward."""
    cl = use_channels_last(model, layers, images)
    with frozen_eval(model), channels_last(model, cl), affine_batchnorm(model, cl), capture(model, layers) as acts, \
            torch.enable_grad():
        x = images.contiguous(memory_format=torch.channels_last) if cl else images
        yield (lambda: model(x)), acts


def _maps(fn, acts: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """[B, L, H, W]: each layer's raw map, normalised in place, upsampled into its slot."""
    b = acts[0].shape[0]
    with torch.no_grad():
        out = torch.empty((b, len(acts), *size), dtype=torch.float32, device=acts[0].device)
        for i, (a, g) in enumerate(zip(acts, grads)):
            raw = normalise_(fn(a.detach().float(), g.float()).contiguous())
            _upsample_into(raw, out[:, i])
    return out


def _upsample_into(raw: torch.Tensor, dest: torch.Tensor) -> None:
    """Bilinear (align_corners=False) resize of raw [B, h, w] into dest [B, H, W] (a strided view
    of the output): one kernel call, no intermediate tensor; a plain copy when sizes match."""
    if raw.shape[-2:] == dest.shape[-2:]:
        dest.copy_(raw)
        return
    up = F.interpolate(raw[:, None], size=tuple(dest.shape[-2:]), mode="bilinear", align_corners=False)
    dest.copy_(up[:, 0])
