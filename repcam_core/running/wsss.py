"""The weakly-supervised semantic segmentation convention (IRN-style), beside the paper's metric.

Per evaluation image: the fused maps of its ground-truth classes, argmax over them and a constant
background plane at ``bg_threshold``; mIoU over background + classes from the confusion matrix.
Reads the same cached maps as :meth:`repcam_core.running.experiment.Experiment.evaluate_mode`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from repcam_core.errors import ConfigError
from repcam_core.evaluation.iou import SegmentationAccumulator
from repcam_core.method.modes import Mode, parse_mode

if TYPE_CHECKING:  # pragma: no cover
    from repcam_core.running.experiment import Experiment


def evaluate_wsss(exp: "Experiment", mode: Mode | str, bg_threshold: float = 0.15) -> dict[str, Any]:
    """Returns ``{"mode", "bg_threshold", "iou": [C + 1] (index 0 background, NaN if absent),
    "miou"}`` (cached under the mode's key and the background threshold)."""
    mode = mode if isinstance(mode, Mode) else parse_mode(mode)
    if not 0.0 <= bg_threshold <= 1.0:
        raise ConfigError(f"background threshold must be in [0, 1], got {bg_threshold}")
    p = exp.p
    C, size = p.num_classes, p.config.image_size
    key = {"wsss": exp.mode_key(mode), "bg": float(bg_threshold)}

    def create(tmp: Path) -> None:
        exp.needs([mode])
        comps = exp.prepare(mode)
        n = len(p.eval_split)
        best = torch.full((n, size, size), float(bg_threshold))
        label = torch.zeros((n, size, size), dtype=torch.uint8)
        with p.progress.task(f"WSSS evaluation of {mode.name}", C) as step:
            for c in range(C):  # increasing c + strict '>' = argmax's first-maximum rule
                idx = p.eval_indices(c)
                if len(idx):
                    maps = exp.full_size(exp.fused_maps(c, comps[c], mode))
                    win = maps > best[idx]
                    best[idx] = torch.where(win, maps, best[idx])
                    label[idx] = torch.where(win, torch.tensor(c + 1, dtype=torch.uint8), label[idx])
                step(1)
        acc = SegmentationAccumulator(C)
        acc.update(label, p.eval_split.masks)
        iou = acc.iou()
        (tmp / "wsss.json").write_text(json.dumps({
            "mode": mode.name, "bg_threshold": float(bg_threshold),
            "iou": [None if not np.isfinite(v) else float(v) for v in iou], "miou": acc.miou()}))

    def load(path: Path) -> dict[str, Any]:
        d = json.loads((path / "wsss.json").read_text())
        d["iou"] = np.array([np.nan if v is None else v for v in d["iou"]], dtype=float)
        return d

    return p.cache.get_or_create("wsss", key, create, load)
