"""Combining maps: the single-layer Grad-CAM, the multi-layer map (sec. 3.2, "+A") and the
average over representative classes (sec. 3.3, "+F"). Every result is min-max normalised so one
threshold (0.15) means the same thing for every mode."""

from __future__ import annotations

import torch

from repcam_core.cam.engine import normalise


def last_layer(maps: torch.Tensor) -> torch.Tensor:
    """Classic Grad-CAM: the deepest layer's map. [B, L, H, W] -> [B, H, W]"""
    return normalise(maps[:, -1])


def multilayer(maps: torch.Tensor) -> torch.Tensor:
    """Sum of every layer's map times the last layer's map. [B, L, H, W] -> [B, H, W]"""
    return normalise(maps.sum(1) * maps[:, -1])


def average(per_class: torch.Tensor) -> torch.Tensor:
    """Fuse the maps of N representative classes by averaging. [N, B, H, W] -> [B, H, W]"""
    return normalise(per_class.float().mean(0))
