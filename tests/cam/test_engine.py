"""The CAM engine against a direct autograd computation of each method's formula as its paper
writes it (Grad-CAM, Grad-CAM++, LayerCAM), and its hygiene (hooks, modes, grads)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repcam_core.cam import fusion
from repcam_core.cam.engine import capture, frozen_eval, layer_maps, normalise
from repcam_core.cam.methods import CAM_METHODS
from repcam_core.errors import ConfigError, UnknownNameError


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU())
        self.c = nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.c(self.b(self.a(x))).mean((2, 3)))


def _gradcam(act: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al.): channel weights = spatial mean of dS/dA; relu(sum_k w_k A^k)."""
    (g,) = torch.autograd.grad(score, act, retain_graph=True)
    return torch.relu((g.mean((2, 3), keepdim=True) * act).sum(1))[0]


def _reference_maps(model: nn.Module, x: torch.Tensor, target: int, size: int, raw=_gradcam,
                    contrast: int | None = None) -> torch.Tensor:
    """Per-layer maps written out by hand: keep every layer's output, compute the target logit of
    each image separately through an ordinary graph, ``raw(layer output, score)`` the method's
    formula, min-max normalise, upsample. With ``contrast`` the score is ``logit[target] -
    logit[contrast]``."""
    model.eval()
    outs = []
    for i in range(x.shape[0]):
        xi = x[i:i + 1]
        a = model.a(xi)
        b = model.b(a)
        c = model.c(b)
        logits = model.fc(c.mean((2, 3)))[0]
        score = logits[target] - (logits[contrast] if contrast is not None else 0)
        maps = []
        for act in (a, b, c):
            cam = raw(act, score).detach()
            cam = cam - cam.min()
            cam = cam / (cam.max() + 1e-7)
            maps.append(F.interpolate(cam[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0])
        outs.append(torch.stack(maps))
    return torch.stack(outs).detach()


def _reference_gradcam(model: nn.Module, x: torch.Tensor, target: int, size: int,
                       contrast: int | None = None) -> torch.Tensor:
    return _reference_maps(model, x, target, size, _gradcam, contrast)


def _gradcam_pp(act: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ as Chattopadhay et al. (WACV 2018) write it, for the exponential class score
    ``Y = exp(S)`` of their eq. 17: weights ``w_k = sum_ij alpha_ij^k relu(dY/dA_ij^k)`` (eq. 7)
    with ``alpha_ij^k = d2Y/dA_ij^2 / (2 d2Y/dA_ij^2 + sum_ab A_ab^k d3Y/dA_ij^3)`` (eq. 10; 0 where
    the denominator is 0), the second and third derivatives of Y taken by autograd element by
    element, not from a closed form; the map is ``relu(sum_k w_k A^k)`` (eq. 6 summed over k)."""
    y = torch.exp(score)
    (g1,) = torch.autograd.grad(y, act, create_graph=True)
    flat, second, third = g1.flatten(), [], []
    for e in range(act.numel()):
        (h,) = torch.autograd.grad(flat[e], act, create_graph=True)
        (t,) = torch.autograd.grad(h.flatten()[e], act, retain_graph=True)
        second.append(h.flatten()[e].detach())
        third.append(t.flatten()[e])
    d2, d3 = torch.stack(second).view_as(act), torch.stack(third).view_as(act)
    g1, act = g1.detach(), act.detach()
    denom = 2 * d2 + act.sum((2, 3), keepdim=True) * d3
    alpha = torch.where(denom != 0, d2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(d2))
    weights = (alpha * torch.relu(g1)).sum((2, 3), keepdim=True)
    return torch.relu((weights * act).sum(1))[0]


def _layercam(act: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    """LayerCAM as Jiang et al. (TIP 2021) write it: a weight per location,
    ``w_ij^k = relu(dS/dA_ij^k)`` (eq. 5), ``A-hat_ij^k = w_ij^k A_ij^k`` (eq. 6), and the map
    ``relu(sum_k A-hat^k)`` (eq. 7), summed channel by channel here."""
    (g,) = torch.autograd.grad(score, act, retain_graph=True)
    total = torch.zeros_like(act[0, 0])
    for k in range(act.shape[1]):
        total = total + torch.relu(g[0, k]) * act[0, k]
    return torch.relu(total)


def test_gradcam_matches_direct_autograd_per_image():
    torch.manual_seed(0)
    model = Tiny()
    x = torch.randn(5, 3, 16, 16)
    maps, logits = layer_maps(model, ["a", "b", "c"], x, 2)
    ref = _reference_gradcam(model, x, 2, 16)
    assert maps.shape == (5, 3, 16, 16)
    assert torch.allclose(maps, ref, atol=1e-5)
    assert torch.allclose(logits, model(x), atol=1e-6)


@pytest.mark.parametrize("method, formula", [("gradcam++", _gradcam_pp), ("layercam", _layercam)])
def test_method_matches_its_papers_formula_computed_directly(method, formula):
    """The engine's per-layer maps against the paper's formula on a tiny model (with real
    BatchNorm statistics), image by image, in float64 for the reference: to 1e-5 after min-max
    normalisation, as Grad-CAM is checked (the engine computes in float32)."""
    torch.manual_seed(6)
    model = Tiny()
    _randomise_batchnorm(model)
    x = torch.randn(2, 3, 12, 12)
    maps, _ = layer_maps(model, ["a", "b", "c"], x, 2, method=method)
    ref = _reference_maps(copy.deepcopy(model).double(), x.double(), 2, 12, formula).float()
    assert maps.shape == ref.shape == (2, 3, 12, 12)
    assert torch.allclose(maps, ref, atol=1e-5), (maps - ref).abs().max()
    plain = _reference_maps(copy.deepcopy(model).double(), x.double(), 2, 12, _gradcam).float()
    assert (ref - plain).abs().max() > 0.05  # another map than Grad-CAM's: the check can tell them apart


def test_contrast_maps_match_direct_autograd_and_differ_from_gradcam():
    """Finer-CAM-style contrast logit_c - logit_j: one forward, one backward per j."""
    from repcam_core.cam.engine import contrast_layer_maps

    torch.manual_seed(4)
    model = Tiny()
    x = torch.randn(3, 3, 16, 16)
    maps = contrast_layer_maps(model, ["a", "b", "c"], x, 2, [0, 1])
    assert maps.shape == (2, 3, 3, 16, 16)
    for k, j in enumerate([0, 1]):
        ref = _reference_gradcam(model, x, 2, 16, contrast=j)
        assert torch.allclose(maps[k], ref, atol=1e-5)
        one, _ = layer_maps(model, ["a", "b", "c"], x, 2, contrast=j)
        assert torch.allclose(maps[k], one, atol=1e-6)
    plain, _ = layer_maps(model, ["a", "b", "c"], x, 2)
    assert (maps[0] - plain).abs().max() > 0.05  # the contrast is another explanation
    with pytest.raises(ConfigError, match="contrasted with itself"):
        contrast_layer_maps(model, ["a", "b", "c"], x, 2, [2])
    assert all(p.grad is None for p in model.parameters()) and not model.a[0]._forward_hooks


def test_per_image_targets_are_independent_within_a_batch():
    torch.manual_seed(1)
    model = Tiny()
    x = torch.randn(4, 3, 16, 16)
    targets = torch.tensor([0, 1, 2, 1])
    maps, _ = layer_maps(model, ["a", "b", "c"], x, targets)
    for i, t in enumerate(targets.tolist()):
        single, _ = layer_maps(model, ["a", "b", "c"], x[i:i + 1], t)
        assert torch.allclose(maps[i], single[0], atol=1e-5)


def test_no_parameter_gradients_and_state_restored():
    model = Tiny().train()
    model.fc.weight.requires_grad_(False)  # a caller's own choice must survive too
    layer_maps(model, ["a", "c"], torch.randn(2, 3, 16, 16), 0)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert model.fc.weight.requires_grad is False
    assert model.a[0].weight.requires_grad is True


def test_hooks_removed_even_when_forward_fails():
    model = Tiny()
    with pytest.raises(RuntimeError):
        layer_maps(model, ["a", "b"], torch.randn(2, 5, 16, 16), 0)  # wrong channel count
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training


def test_frozen_eval_restores_after_exception():
    model = Tiny().train()
    with pytest.raises(ValueError), frozen_eval(model):
        assert not model.training
        raise ValueError("boom")
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_capture_rejects_unknown_layer_and_empty_list():
    with pytest.raises(ConfigError, match="no layer 'nope'"):
        with capture(Tiny(), ["nope"]):
            pass
    with pytest.raises(ConfigError, match="at least one CAM layer"):
        with capture(Tiny(), []):
            pass


def test_target_out_of_range_and_unknown_method():
    with pytest.raises(ConfigError, match="target index out of range"):
        layer_maps(Tiny(), ["c"], torch.randn(1, 3, 16, 16), 5)
    with pytest.raises(UnknownNameError, match="unknown CAM method 'gradcam3'"):
        layer_maps(Tiny(), ["c"], torch.randn(1, 3, 16, 16), 0, method="gradcam3")


@pytest.mark.parametrize("method", CAM_METHODS.names())
def test_every_method_gives_finite_maps_in_unit_range(method):
    torch.manual_seed(2)
    maps, _ = layer_maps(Tiny(), ["a", "b", "c"], torch.randn(3, 3, 16, 16), 1, method=method)
    assert torch.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1 + 1e-6


def test_multilayer_is_normalised_sum_times_last_layer():
    maps = torch.zeros(1, 2, 2, 2)
    maps[0, 0] = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    maps[0, 1] = torch.tensor([[0.5, 1.0], [0.0, 0.0]])
    # sum = [[1.5, 1], [0, 0]]; times last = [[0.75, 1], [0, 0]]; normalised by 1.
    expected = torch.tensor([[[0.75, 1.0], [0.0, 0.0]]])
    assert torch.allclose(fusion.multilayer(maps), expected, atol=1e-6)


def test_average_fusion_is_mean_then_normalised():
    a = torch.tensor([[[1.0, 0.0]]])
    b = torch.tensor([[[0.0, 0.5]]])
    # mean = [0.5, 0.25] -> normalised [1, 0.5] (min 0.25 subtracted first: [0.25, 0] / 0.25)
    out = fusion.average(torch.stack([a, b]))
    assert torch.allclose(out, torch.tensor([[[1.0, 0.0]]]), atol=1e-6)


def test_normalise_handles_constant_maps():
    out = normalise(torch.full((2, 3, 3), 4.0))
    assert torch.equal(out, torch.zeros(2, 3, 3))


def _randomise_batchnorm(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g))


def test_cpu_fast_path_matches_direct_autograd_with_real_batchnorm_statistics():
    """The CPU path (channels-last, eval BatchNorm as one affine op) against the hand-written
    reference, which runs the model's own BatchNorm modules in NCHW."""
    from repcam_core.cam.engine import use_channels_last

    torch.manual_seed(4)
    model = Tiny()
    _randomise_batchnorm(model)
    x = torch.randn(3, 3, 16, 16)
    assert use_channels_last(model, ["a", "b", "c"], x)
    maps, logits = layer_maps(model, ["a", "b", "c"], x, 1)
    assert torch.allclose(maps, _reference_gradcam(model, x, 1, 16), atol=1e-5)
    assert torch.allclose(logits, model(x), atol=1e-5)


def test_fast_path_restores_forward_and_memory_layout():
    model = Tiny()
    layer_maps(model, ["a", "c"], torch.randn(2, 3, 16, 16), 0)
    assert all("forward" not in m.__dict__ for m in model.modules())
    assert model.a[0].weight.is_contiguous()
    cl = Tiny().to(memory_format=torch.channels_last)  # as train.fit leaves it
    layer_maps(cl, ["a", "c"], torch.randn(2, 3, 16, 16), 0)
    assert cl.a[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_is_skipped_when_a_max_pool_follows_the_first_cam_layer():
    from repcam_core.cam.engine import use_channels_last

    vgg_like = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3))
    x = torch.randn(1, 3, 16, 16)
    assert not use_channels_last(vgg_like, ["1", "3"], x)
    assert use_channels_last(vgg_like, ["3"], x)  # the pool lies before the graph starts
