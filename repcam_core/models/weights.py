"""ImageNet weights from the local torch cache, through torchvision's weights API.

Nothing is downloaded at run time: a missing file raises :class:`WeightsNotFoundError` that names
the file and how to fetch it on a connected machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from repcam_core.errors import WeightsNotFoundError
from repcam_core.models.backbones import BACKBONES, BackboneSpec


def checkpoint_dir() -> Path:
    """torchvision's download directory: ``$TORCH_HOME/hub/checkpoints`` (see torch.hub.get_dir)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_path(spec: BackboneSpec) -> Path | None:
    """Where torchvision keeps ``spec``'s ImageNet weights, or None if it has none."""
    weights = spec.weights_enum()
    if weights is None:
        return None
    return checkpoint_dir() / os.path.basename(weights.url)


def fetch_command(spec: BackboneSpec) -> str:
    """A one-liner that downloads ``spec``'s weights into the torch cache on a connected machine."""
    return (f"python -c \"import torchvision; torchvision.models.get_model('{spec.name}', "
            f"weights='{spec.weights}')\"")


def load_imagenet_state(spec: BackboneSpec) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of ``spec``, loaded with ``weights_only=True`` (no unpickling)."""
    path = weights_path(spec)
    if path is None:
        raise WeightsNotFoundError(f"backbone {spec.name!r} has no ImageNet weights; use init 'scratch' or 'multiclass'")
    if not path.is_file():
        raise WeightsNotFoundError(
            f"ImageNet weights for {spec.name} not found: expected {path}. On a machine with internet "
            f"run: {fetch_command(spec)} and copy {path.name} into {path.parent} (or point TORCH_HOME at a copy)"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated file
        raise WeightsNotFoundError(f"cannot read ImageNet weights {path}: {exc}") from exc


@dataclass(frozen=True)
class WeightsStatus:
    backbone: str
    path: Path | None
    present: bool
    fetch: str


def weights_status() -> list[WeightsStatus]:
    """One row per registered backbone: is its ImageNet file present locally, and how to get it."""
    rows = []
    for name in BACKBONES.names():
        spec = BACKBONES.get(name)
        path = weights_path(spec)
        rows.append(WeightsStatus(name, path, bool(path and path.is_file()),
                                  fetch_command(spec) if path else "(no ImageNet weights: trained from scratch)"))
    return rows
