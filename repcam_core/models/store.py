"""A trained model as a cache entry's files: ``model.safetensors`` (the state dict) and
``train_log.json`` (:class:`repcam_core.models.train.TrainLog`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repcam_core.storage.integrity import save_tensors
from repcam_core.models.backbones import create_model

if TYPE_CHECKING:
    from torch import nn

    from repcam_core.models.train import TrainLog


def save_model(tmp: Path, model: nn.Module, log: TrainLog) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_tensors(state, tmp / "model.safetensors")
    (tmp / "train_log.json").write_text(json.dumps(log.to_dict()))


def load_model(path: Path, backbone: str, num_classes: int) -> nn.Module:
    from safetensors.torch import load_file

    model = create_model(backbone, num_classes, init="scratch")
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    return model.eval()


def train_log(path: Path) -> dict[str, Any]:
    """The training log stored beside a model artifact."""
    return json.loads((path / "train_log.json").read_text())
