"""5. Interactive paths: improved k-means over 20 and 80 classes, and fusion + IoU from cached
per-layer maps of one 224x224 image (4 comparison classes x 4 layers), median milliseconds.
Targets (app issue): fusion + IoU < 150 ms, k-means on 20 classes < 50 ms."""

from __future__ import annotations

import numpy as np
import torch

from bench.common import Report, Settings, median_ms


def _similarity(c: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 4, c)
    B = rng.random((c, c)) * 0.2 + (groups[:, None] == groups[None]) * 0.5
    np.fill_diagonal(B, 0)
    return B


def _explanation(size: int = 224, n_classes: int = 4, n_layers: int = 4):
    from repcam_core.running.explore import ImageExplanation

    g = torch.Generator().manual_seed(0)
    maps = lambda: torch.rand(n_layers, size, size, generator=g)  # noqa: E731
    mask = torch.randint(0, 3, (size, size), generator=g, dtype=torch.uint8)
    return ImageExplanation(image=torch.zeros(3, size, size, dtype=torch.uint8), target=0, baseline=maps(),
                            per_class={j: maps() for j in range(1, n_classes + 1)}, mask=mask,
                            layer_names=tuple(f"layer{i + 1}" for i in range(n_layers)))


def run(settings: Settings) -> Report:
    from repcam_core.running import explore
    from repcam_core.method.clustering import improved_kmeans

    reps = 3 if settings.smoke else 21
    rep = Report("interactive")
    figures, rows = {}, []
    for c in (20, 80):
        B = _similarity(c)
        ms = median_ms(lambda: improved_kmeans(B, 4, min_size=4, seed=0), reps)
        figures[f"kmeans_{c}_ms"] = ms
        rows.append([f"improved k-means, {c} classes, N=4", ms, "< 50" if c == 20 else "", 
                     ("yes" if ms < 50 else "NO") if c == 20 else ""])
    expl = _explanation()
    classes, layers = [1, 2, 3, 4], [0, 1, 2, 3]

    def fuse_iou():
        cam = explore.fuse(expl, classes, layers, multilayer=True)
        return explore.iou(cam, expl.mask, expl.target, 0.15)

    ms = median_ms(fuse_iou, reps)
    figures["fuse_iou_ms"] = ms
    rows.append(["fuse + IoU, 224x224, 4 classes x 4 layers", ms, "< 150", "yes" if ms < 150 else "NO"])
    rep.table("Interactive paths (median ms)", ["path", "ms", "target", "met"], rows)
    rep.figures = figures
    return rep
