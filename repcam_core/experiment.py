"""Maps and evaluation on top of a :class:`Pipeline`: the ablation modes and the pairwise table.

Per (target class c, comparison class j) the maps of c's evaluation images under the binary model
(c, j) are computed once (single-layer Grad-CAM and the multi-layer map, from one forward and one
backward pass) and cached; every mode is then an average of cached maps plus the IoU metric.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from repcam_core.cam import fusion
from repcam_core.cam.engine import layer_maps
from repcam_core.data.transforms import to_float_tensor
from repcam_core.errors import ConfigError
from repcam_core.evaluate import DEFAULT_CURVE, IoUAccumulator
from repcam_core.integrity import save_tensors
from repcam_core.method.modes import Mode, comparison_classes, parse_mode
from repcam_core.method.selection import RANK_A
from repcam_core.pipeline import Pipeline

MAP_BATCH = 32


def map_size(image_size: int) -> int:
    """Resolution the cached maps are stored at: the image size up to 128, half of it above
    (maps are upsampled from at most stride-4 features, so little is lost; storage stays small)."""
    return image_size if image_size <= 128 else image_size // 2


@dataclass
class ModeResult:
    """IoU of one mode: per class [C] at the configured threshold, and the curve [C, T]."""

    mode: str
    thresholds: list[float]
    iou: np.ndarray  # [C, T]
    threshold_index: int
    comparisons: dict[int, list[int]] = field(default_factory=dict)

    @property
    def per_class(self) -> np.ndarray:
        return self.iou[:, self.threshold_index]

    @property
    def miou(self) -> float:
        vals = self.per_class
        return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


@dataclass
class Results:
    """The ablation table of one configuration: modes x classes."""

    class_names: tuple[str, ...]
    threshold: float
    modes: dict[str, ModeResult]
    config: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        pct = lambda v: None if not np.isfinite(v) else round(100 * float(v), 2)  # noqa: E731
        return {
            "threshold": self.threshold,
            "classes": list(self.class_names),
            "miou": {m: pct(r.miou) for m, r in self.modes.items()},
            "per_class": {m: {n: pct(v) for n, v in zip(self.class_names, r.per_class)}
                          for m, r in self.modes.items()},
            "comparisons": {m: {self.class_names[c]: [self.class_names[j] for j in js]
                                for c, js in r.comparisons.items()} for m, r in self.modes.items()},
            "config": self.config,
        }

    def to_csv(self) -> str:
        """Rows = modes, columns = classes then mIoU, values in percent."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["mode", *self.class_names, "mIoU"])
        for m, r in self.modes.items():
            w.writerow([m, *[f"{100 * v:.2f}" for v in r.per_class], f"{100 * r.miou:.2f}"])
        return buf.getvalue()


class Experiment:
    """Computes, caches and evaluates maps for the modes of one configuration."""

    def __init__(self, pipeline: Pipeline, thresholds: Sequence[float] | None = None,
                 executor: Any = None) -> None:
        self.p = pipeline
        self._executor = executor
        t = float(pipeline.config.threshold)
        curve = [float(x) for x in (DEFAULT_CURVE if thresholds is None else thresholds)]
        self.thresholds = sorted(set(curve) | {t})
        self.t_index = self.thresholds.index(t)

    # ------------------------------------------------------------ maps
    def _maps_key(self, model_key: dict, c: int, output: int) -> dict[str, Any]:
        return {"model": model_key, "target": c, "output": output, "split": self.p.config.eval_split,
                "method": self.p.config.cam_method, "size": map_size(self.p.config.image_size)}

    def _compute_maps(self, model: torch.nn.Module, c: int, output: int, tmp: Path) -> None:
        idx = self.p.eval_indices(c)
        images = self.p.eval_split.images[idx]
        singles, multis = [], []
        size = map_size(self.p.config.image_size)
        for lo in range(0, len(idx), MAP_BATCH):
            x = to_float_tensor(images[lo:lo + MAP_BATCH].to(self.p.device))
            maps, _ = layer_maps(model, self.p.spec.cam_layers, x, output, self.p.config.cam_method, (size, size))
            singles.append(fusion.last_layer(maps).half().cpu())
            multis.append(fusion.multilayer(maps).half().cpu())
        empty = torch.zeros(0, size, size, dtype=torch.half)
        save_tensors({"single": torch.cat(singles) if singles else empty,
                      "multi": torch.cat(multis) if multis else empty}, tmp / "maps.safetensors")

    def baseline_maps(self, c: int) -> dict[str, torch.Tensor]:
        """Grad-CAM of the multi-class model for class ``c`` on c's evaluation images:
        {"single": [n, s, s], "multi": [n, s, s]} float16."""
        key = self._maps_key(self.p.multiclass_key(), c, c)
        return self.p.cache.get_or_create(
            "maps", key, lambda tmp: self._compute_maps(self.p.multiclass_model(), c, c, tmp), _load_maps)

    def pair_maps(self, c: int, j: int) -> dict[str, torch.Tensor]:
        """Maps of class ``c``'s evaluation images under the binary model (c, j)."""
        a, b = sorted((c, j))
        output = 0 if c == a else 1
        key = self._maps_key(self.p.binary_key(a, b), c, output)
        return self.p.cache.get_or_create(
            "maps", key, lambda tmp: self._compute_maps(self.p.binary_model(a, b), c, output, tmp), _load_maps)

    def has_pair_maps(self, c: int, j: int) -> bool:
        a, b = sorted((c, j))
        return self.p.cache.has("maps", self._maps_key(self.p.binary_key(a, b), c, 0 if c == a else 1))

    def ensure_pairs(self, pairs: set[tuple[int, int]]) -> None:
        """Train (or load) each pair's binary model and cache both directions' maps, with progress,
        through the executor given to the constructor (in this process by default)."""
        todo = sorted(p for p in pairs if not (self.has_pair_maps(*p) and self.has_pair_maps(p[1], p[0])))
        if not todo:
            return
        from repcam_core.executors import LocalExecutor

        executor = self._executor or LocalExecutor()
        desc = "binary models (train + maps)" + ("" if executor.label == "local" else f" on {executor.label}")
        with self.p.progress.task(desc, len(todo)) as step:
            executor.run_pairs(self, todo, step)

    # ------------------------------------------------------- selection
    def needs(self, modes: Sequence[Mode]) -> None:
        """Fail fast, before any training, when a mode cannot run on this dataset."""
        C = self.p.num_classes
        cfg = self.p.config
        if C < 2:
            raise ConfigError(f"the dataset has {C} class(es); at least 2 are needed")
        dummy = np.zeros((C, C))
        for m in modes:
            if m.needs_clustering and cfg.n_clusters * cfg.min_cluster_size > C:
                raise ConfigError(f"cannot make {cfg.n_clusters} clusters of at least {cfg.min_cluster_size} "
                                  f"classes from {C} classes (mode {m.name}); lower --clusters/--min-cluster-size")
            if m.kind == "cluster" and m.k is not None and m.k > C - 1:
                raise ConfigError(f"mode {m.name}: k={m.k} is out of range for {C} classes (k <= {C - 1})")
            if m.kind == "random" and cfg.n_random > C - 1:
                raise ConfigError(f"mode {m.name}: cannot draw {cfg.n_random} classes from {C - 1} others")
            if m.kind == "topk" and m.k is not None and m.k > C - 1:
                raise ConfigError(f"mode {m.name}: k={m.k} is out of range for {C} classes (k <= {C - 1})")
            if m.kind == "rank":
                comparison_classes(m, 0, B=dummy, num_classes=C)  # raises on positions out of range

    def comparisons(self, mode: Mode, pairwise: np.ndarray | None = None) -> dict[int, list[int]]:
        """Representative classes per target class for ``mode``."""
        C, cfg = self.p.num_classes, self.p.config
        B = self.p.similarity() if mode.needs_similarity else None
        labels = self.p.clustering().labels if mode.needs_clustering else None
        return {c: comparison_classes(mode, c, B=B, cluster_labels=labels, pairwise=pairwise, num_classes=C,
                                      n=cfg.n_random, seed=cfg.seed) for c in range(C)}

    # ------------------------------------------------------ evaluation
    def _masks(self, c: int) -> torch.Tensor:
        return self.p.eval_split.masks[self.p.eval_indices(c)]

    def _accumulate(self, acc: IoUAccumulator, c: int, maps: torch.Tensor) -> None:
        size = self.p.config.image_size
        if maps.shape[-1] != size:
            maps = F.interpolate(maps[:, None].float(), size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        acc.update(c, maps.float(), self._masks(c))

    def fused_maps(self, c: int, comps: Sequence[int], multilayer: bool) -> torch.Tensor:
        """The fused map [n, s, s] of class c's evaluation images over comparison classes ``comps``."""
        kind = "multi" if multilayer else "single"
        if not comps:
            return fusion.normalise(self.baseline_maps(c)[kind].float())
        return fusion.average(torch.stack([self.pair_maps(c, j)[kind] for j in comps]))

    def pairwise_key(self) -> dict[str, Any]:
        """Cache key of :meth:`pairwise` (every pair's binary model and maps at the threshold)."""
        return {"maps": self._maps_key(self.p.binary_key(0, 1) | {"pair": "all"}, -1, -1),
                "thresholds": [self.p.config.threshold]}

    def has_pairwise(self) -> bool:
        return self.p.cache.has("pairwise", self.pairwise_key())

    def pairwise(self) -> dict[str, np.ndarray]:
        """Table 1: IoU [C, C] of class c (row) with the binary model (c, j) alone, for the
        single-layer ("single") and multi-layer ("multi") maps; NaN diagonal. Trains every pair."""
        C = self.p.num_classes
        key = self.pairwise_key()

        def create(tmp: Path) -> None:
            self.p.check_training_data()
            self.ensure_pairs({(a, b) for a in range(C) for b in range(a + 1, C)})
            out = {}
            for kind in ("single", "multi"):
                table = np.full((C, C), np.nan)
                for c in range(C):
                    for j in range(C):
                        if j != c:
                            acc = IoUAccumulator(C, (self.p.config.threshold,))
                            self._accumulate(acc, c, fusion.normalise(self.pair_maps(c, j)[kind].float()))
                            table[c, j] = acc.per_class(0)[c]
                out[kind] = table.tolist()
            (tmp / "pairwise.json").write_text(json.dumps(out))

        def load(p: Path) -> dict[str, np.ndarray]:
            d = json.loads((p / "pairwise.json").read_text())
            return {k: np.array(v, dtype=float) for k, v in d.items()}

        return self.p.cache.get_or_create("pairwise", key, create, load)

    def mode_key(self, mode: Mode) -> dict[str, Any]:
        cfg = self.p.config
        return {"mode": mode.name, "multiclass": self.p.multiclass_key(), "binary": self.p.binary_key(0, 1),
                "similarity": self.p.similarity_key() if mode.needs_similarity else None,
                "clusters": [cfg.n_clusters, cfg.min_cluster_size] if mode.needs_clustering else None,
                "n_random": cfg.n_random if mode.kind == "random" else None,
                "method": cfg.cam_method, "thresholds": self.thresholds, "split": cfg.eval_split}

    def evaluate_mode(self, mode: Mode) -> ModeResult:
        """IoU per class and threshold of ``mode`` (cached)."""
        C = self.p.num_classes

        def create(tmp: Path) -> None:
            pairwise = self.pairwise()["single"] if mode.needs_pairwise else None
            comps = self.comparisons(mode, pairwise)
            self.ensure_pairs({tuple(sorted((c, j))) for c, js in comps.items() for j in js})
            acc = IoUAccumulator(C, self.thresholds)
            with self.p.progress.task(f"evaluating {mode.name}", C) as step:
                for c in range(C):
                    if len(self.p.eval_indices(c)):
                        self._accumulate(acc, c, self.fused_maps(c, comps[c], mode.multilayer))
                    step(1)
            (tmp / "result.json").write_text(json.dumps({
                "mode": mode.name, "thresholds": self.thresholds, "iou": acc.iou().tolist(),
                "comparisons": {str(c): js for c, js in comps.items()}}))

        def load(p: Path) -> ModeResult:
            d = json.loads((p / "result.json").read_text())
            return ModeResult(d["mode"], d["thresholds"], np.array(d["iou"], dtype=float),
                              d["thresholds"].index(self.p.config.threshold),
                              {int(c): js for c, js in d["comparisons"].items()})

        return self.p.cache.get_or_create("results", self.mode_key(mode), create, load)

    def run(self, modes: Sequence[str | Mode]) -> Results:
        """Evaluate every mode (in order) and return the ablation table."""
        parsed = [m if isinstance(m, Mode) else parse_mode(m) for m in modes]
        self.needs(parsed)
        self.p.check_training_data()
        # Pairwise needs every model anyway: build it first so later modes only read the cache.
        if any(m.needs_pairwise for m in parsed):
            self.pairwise()
        results = {m.name: self.evaluate_mode(m) for m in parsed}
        return Results(self.p.class_names, self.p.config.threshold, results, self.p.config.to_dict())

    # ------------------------------------------------------ WSSS evaluation
    def evaluate_wsss(self, mode: Mode | str, bg_threshold: float = 0.15) -> dict[str, Any]:
        """The weakly-supervised segmentation convention (IRN-style): per evaluation image, the
        fused maps of its ground-truth classes, argmax over them and a constant background plane
        at ``bg_threshold``; mIoU over background + classes from the confusion matrix (cached).

        Returns ``{"mode", "bg_threshold", "iou": [C + 1] (index 0 background, NaN if absent),
        "miou"}``. Uses the same cached maps as :meth:`evaluate_mode`.
        """
        from repcam_core.evaluate import SegmentationAccumulator

        mode = mode if isinstance(mode, Mode) else parse_mode(mode)
        if not 0.0 <= bg_threshold <= 1.0:
            raise ConfigError(f"background threshold must be in [0, 1], got {bg_threshold}")
        C, size = self.p.num_classes, self.p.config.image_size
        key = {"wsss": self.mode_key(mode), "bg": float(bg_threshold)}

        def create(tmp: Path) -> None:
            self.needs([mode])
            pairwise = self.pairwise()["single"] if mode.needs_pairwise else None
            comps = self.comparisons(mode, pairwise)
            self.ensure_pairs({tuple(sorted((c, j))) for c, js in comps.items() for j in js})
            n = len(self.p.eval_split)
            best = torch.full((n, size, size), float(bg_threshold))
            label = torch.zeros((n, size, size), dtype=torch.uint8)
            with self.p.progress.task(f"WSSS evaluation of {mode.name}", C) as step:
                for c in range(C):  # increasing c + strict '>' = argmax's first-maximum rule
                    idx = self.p.eval_indices(c)
                    if len(idx):
                        maps = self.fused_maps(c, comps[c], mode.multilayer).float()
                        if maps.shape[-1] != size:
                            maps = F.interpolate(maps[:, None], size=(size, size), mode="bilinear",
                                                 align_corners=False)[:, 0]
                        win = maps > best[idx]
                        best[idx] = torch.where(win, maps, best[idx])
                        label[idx] = torch.where(win, torch.tensor(c + 1, dtype=torch.uint8), label[idx])
                    step(1)
            acc = SegmentationAccumulator(C)
            acc.update(label, self.p.eval_split.masks)
            iou = acc.iou()
            (tmp / "wsss.json").write_text(json.dumps({
                "mode": mode.name, "bg_threshold": float(bg_threshold),
                "iou": [None if not np.isfinite(v) else float(v) for v in iou], "miou": acc.miou()}))

        def load(path: Path) -> dict[str, Any]:
            d = json.loads((path / "wsss.json").read_text())
            d["iou"] = np.array([np.nan if v is None else v for v in d["iou"]], dtype=float)
            return d

        return self.p.cache.get_or_create("wsss", key, create, load)


def aggregate_seeds(per_seed: dict[int, Results]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of each mode's mIoU and per-class IoU (percent).

    Training a small network is noisy; a claim about modes should rest on several seeds."""
    first = next(iter(per_seed.values()))
    modes = list(first.modes)
    miou = {m: np.array([100 * r.modes[m].miou for r in per_seed.values()]) for m in modes}
    per_class = {m: np.nanmean([100 * r.modes[m].per_class for r in per_seed.values()], 0) for m in modes}
    return {
        "threshold": first.threshold,
        "classes": list(first.class_names),
        "seeds": list(per_seed),
        "miou": {m: round(float(v.mean()), 2) for m, v in miou.items()},
        "miou_std": {m: round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 2) for m, v in miou.items()},
        "per_seed": {str(s): {m: round(100 * r.modes[m].miou, 2) for m in modes} for s, r in per_seed.items()},
        "per_class": {m: {n: round(float(v), 2) for n, v in zip(first.class_names, per_class[m])} for m in modes},
        "config": first.config,
    }


def _load_maps(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "maps.safetensors"))


__all__ = ["Experiment", "Results", "ModeResult", "map_size", "RANK_A"]
