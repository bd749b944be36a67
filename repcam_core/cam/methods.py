"""Per-layer map methods, by name. Each turns a layer's activations and the gradients of the
target score into a raw (un-normalised, non-negative) map; the engine owns everything else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from repcam_core.registry import Registry

if TYPE_CHECKING:  # the registry's names are read without importing torch (CLI choices, --help)
    import torch

# (activations [B,K,h,w], gradients [B,K,h,w]) -> raw map [B,h,w] >= 0
MapFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
CAM_METHODS: Registry[MapFn] = Registry("CAM method")


@CAM_METHODS.register("gradcam")
def gradcam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al.): channel weights = spatial mean of the gradients."""
    import torch

    weights = grads.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * acts).sum(1))


@CAM_METHODS.register("gradcam++")
def gradcam_pp(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhay et al.), with the usual exponential-score closed form."""
    import torch

    g2, g3 = grads.pow(2), grads.pow(3)
    denom = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g3
    alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
    alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
    weights = (alpha * torch.relu(grads)).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * acts).sum(1))


@CAM_METHODS.register("layercam")
def layercam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """LayerCAM (Jiang et al.): element-wise positive gradients times activations."""
    import torch

    return torch.relu((torch.relu(grads) * acts).sum(1))


@CAM_METHODS.register("cam")
def cam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """CAM (Zhou et al. 2016): ``sum_k w_k^c A_k`` with the class's classifier weights, no ReLU,
    min-max normalised (here shifted to >= 0; the engine's normalisation completes it).

    The weights are read from the gradients, exactly: for a global-average-pool + linear head,
    the score's gradient at every position of the last feature map is ``w_k^c / (h w)``, so its
    spatial sum *is* the fc weight ``w_k^c``. At the last CAM layer of the ResNets, TinyNet and
    MobileNet-v2 this is therefore Zhou's CAM computed from the fc layer. CAM is not defined
    elsewhere: at earlier layers, and for VGG-19 whose head is three fc layers over a 7x7 pool,
    the same formula gives gradient-weighted maps, i.e. Grad-CAM without its ReLU (Grad-CAM
    equals CAM up to scale and ReLU for GAP+linear heads at the last layer). The multi-layer
    map ("+A") with ``cam`` thus sums CAM at the last layer and these maps at the others.
    """
    import torch

    weights = grads.sum(dim=(2, 3), keepdim=True)
    raw = (weights * acts).sum(1)
    return raw - raw.flatten(1).min(1).values[:, None, None]
