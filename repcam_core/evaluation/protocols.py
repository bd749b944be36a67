"""Evaluation protocols a reviewer would accept, all computed from cached per-image pixel counts.

For every evaluated image of class ``c`` and every threshold ``t`` of a fine grid, a mode's map
gives two counts: ``inter`` (ground-truth pixels of c with map >= t) and ``pred`` (non-void
pixels with map >= t), plus the image's ground-truth pixel count ``gt``; the union is
``gt + pred - inter``. The paper's metric for class c sums intersections and unions over the
class's images; mIoU averages the classes. From these counts alone (no model call):

* ``fixed`` — mIoU at one threshold (``RunConfig.threshold``, the paper's 0.15). Depends on that
  arbitrary choice, and "+A" maps are peakier than plain Grad-CAMs, so one threshold favours some
  modes over others.
* ``calibrated`` — each mode's own threshold: the grid point that maximises the mode's mIoU on a
  *calibration split* disjoint from the evaluation split (:mod:`repcam_core.data.calibration`),
  applied to the evaluation split. Ties go to the lowest threshold.
* ``auc`` — the area under the mIoU-threshold curve over [0, 1] (trapezoid rule on
  :data:`CURVE`, 201 points; the area moves by under 0.1 pt against a 4x finer grid, see
  ``tests/test_protocols.py``). Threshold-free.

Uncertainty: a stratified bootstrap over evaluation images — each class's images are resampled
with replacement, as many as it has, ``resamples`` times (>= 1,000 by default) from a seeded
generator that depends only on (seed, class, number of images), so every mode sees the same
resamples and differences are *paired*. Each protocol's 95 % interval is the 2.5/97.5
percentile of its resampled values; the calibrated threshold stays fixed inside the bootstrap
(it was chosen on other images). Against the Baseline, per protocol: the difference, its 95 %
interval and ``p_better``, the share of resamples in which the mode is strictly better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from repcam_core.errors import ConfigError
from repcam_core.evaluation.percent import mean_sd, pct

CURVE = np.round(np.linspace(0.0, 1.0, 201), 3)
"""The threshold grid every per-image count is taken at (step 0.005, 0 and 1 included)."""
PROTOCOLS = ("fixed", "calibrated", "auc")
VOID = 255


def curve_with(threshold: float, grid: Sequence[float] = CURVE) -> np.ndarray:
    """The grid with ``threshold`` added (sorted, unique)."""
    return np.unique(np.concatenate([np.asarray(grid, dtype=np.float64), [float(threshold)]]))


def count_pixels(cams, masks, c: int, thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image counts of class ``c`` at every threshold.

    Args:
        cams: float tensor ``[B, H, W]`` in [0, 1] (a pixel is predicted where ``cam >= t``, t cast
            to the maps' dtype, exactly as :class:`repcam_core.evaluation.iou.IoUAccumulator` counts).
        masks: uint8 tensor ``[B, H, W]``: 0 background, ``c + 1`` class c, 255 void (ignored).
        thresholds: ``[T]`` ascending.

    Returns:
        ``inter [B, T]``, ``pred [B, T]`` and ``gt [B]``, int64.
    """
    import torch

    if cams.ndim != 3 or cams.shape != masks.shape:
        raise ConfigError(f"cams {tuple(cams.shape)} and masks {tuple(masks.shape)} must both be [B, H, W]")
    t = torch.as_tensor(np.asarray(thresholds, dtype=np.float64), dtype=cams.dtype, device=cams.device)
    if t.numel() > 1 and bool((t[1:] <= t[:-1]).any()):
        raise ConfigError("thresholds must be strictly ascending")
    b, T = cams.shape[0], t.numel()
    masks = masks.to(cams.device)
    # bucket k = how many thresholds are <= the value, so value >= t_j exactly when j < k
    bucket = torch.bucketize(cams, t, right=True)
    image = torch.arange(b, device=cams.device).view(b, 1, 1).expand_as(bucket)
    flat = (image * (T + 1) + bucket)

    def at_least(select: torch.Tensor) -> np.ndarray:
        hist = torch.bincount(flat[select], minlength=b * (T + 1)).view(b, T + 1)
        above = hist.flip(1).cumsum(1).flip(1)  # above[:, k] = values in buckets >= k
        return above[:, 1:].cpu().numpy().astype(np.int64)  # >= t_j  <=>  bucket >= j + 1

    gt_mask = masks == (c + 1)
    inter = at_least(gt_mask)
    pred = at_least(masks != VOID)
    gt = gt_mask.flatten(1).sum(1).cpu().numpy().astype(np.int64)
    return inter, pred, gt


@dataclass
class ImageCounts:
    """One mode's pixel counts on one split: per class ``c``, ``inter[c]`` and ``pred[c]``
    ``[n_c, T]`` and ``gt[c]`` ``[n_c]`` (int64), rows in the split's image order."""

    thresholds: np.ndarray
    inter: list[np.ndarray]
    pred: list[np.ndarray]
    gt: list[np.ndarray]

    @classmethod
    def empty(cls, num_classes: int, thresholds: Sequence[float]) -> "ImageCounts":
        t = np.asarray(thresholds, dtype=np.float64)
        z2, z1 = np.zeros((0, t.size), np.int64), np.zeros(0, np.int64)
        return cls(t, [z2.copy() for _ in range(num_classes)], [z2.copy() for _ in range(num_classes)],
                   [z1.copy() for _ in range(num_classes)])

    @property
    def num_classes(self) -> int:
        return len(self.gt)

    @property
    def images(self) -> list[int]:
        return [len(g) for g in self.gt]

    def add(self, c: int, inter: np.ndarray, pred: np.ndarray, gt: np.ndarray) -> None:
        """Append a batch of class ``c``'s images (from :func:`count_pixels`)."""
        T = self.thresholds.size
        as2d = lambda x: np.asarray(x, dtype=np.int64).reshape(-1, T)  # noqa: E731
        self.inter[c] = np.concatenate([self.inter[c], as2d(inter)])
        self.pred[c] = np.concatenate([self.pred[c], as2d(pred)])
        self.gt[c] = np.concatenate([self.gt[c], np.asarray(gt, dtype=np.int64).reshape(-1)])

    def class_iou(self) -> np.ndarray:
        """``[C, T]`` IoU per class and threshold; NaN where the union is 0 (class not evaluated)."""
        inter = np.stack([i.sum(0) for i in self.inter]) if self.inter else np.zeros((0, self.thresholds.size))
        pred = np.stack([p.sum(0) for p in self.pred]) if self.pred else np.zeros_like(inter)
        gt = np.array([g.sum() for g in self.gt], dtype=np.int64)
        return _ratio(inter, gt[:, None] + pred - inter)

    def miou_curve(self) -> np.ndarray:
        """``[T]`` mIoU at every threshold (mean over classes with a defined IoU)."""
        return mean_over_classes(self.class_iou())

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for storage: ``cls [N]``, ``inter``/``pred`` ``[N, T]``, ``gt [N]``, ``thresholds``
        (counts as int32, half the bytes to read: one image's pixel count stays far below 2**31)."""
        cls = np.concatenate([np.full(len(g), c, np.int64) for c, g in enumerate(self.gt)])
        as32 = lambda xs: np.concatenate(xs).astype(np.int32)  # noqa: E731
        return {"cls": cls, "inter": as32(self.inter), "pred": as32(self.pred), "gt": as32(self.gt),
                "thresholds": self.thresholds, "num_classes": np.array([self.num_classes])}

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> "ImageCounts":
        C, c = int(np.asarray(a["num_classes"]).reshape(-1)[0]), np.asarray(a["cls"])
        inter, pred, gt = (np.asarray(a[k], dtype=np.int64) for k in ("inter", "pred", "gt"))
        if c.size == 0 or bool((c[1:] >= c[:-1]).all()):  # stored class by class: slices, no copies
            edges = np.searchsorted(c, np.arange(C + 1))
            parts = [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
        else:
            parts = [np.flatnonzero(c == k) for k in range(C)]
        return cls(np.asarray(a["thresholds"], dtype=np.float64), [inter[p] for p in parts],
                   [pred[p] for p in parts], [gt[p] for p in parts])


def mean_over_classes(iou: np.ndarray) -> np.ndarray:
    """``[T]`` mean of ``iou [C, T]`` over the classes with a defined IoU (NaN: not evaluated).

    Every mIoU of a result goes through this one function (``ModeResult.miou`` and each
    protocol's point value), so the same figure is never summed in two orders: ``np.nanmean``
    over a column sums pairwise from 8 classes on and can differ in the last bit."""
    return _nanmean(np.asarray(iou, dtype=np.float64), axis=0)


def bootstrap_weights(images: Sequence[int], resamples: int, seed: int) -> list[np.ndarray]:
    """Per class, ``[R, n_c]`` how often each image is drawn in each resample (rows sum to n_c).

    Depends only on (seed, class index, n_c): every mode evaluated on the same images gets the
    same resamples, which makes differences between modes paired."""
    out = []
    for c, n in enumerate(images):
        rng = np.random.default_rng([int(seed), c, int(n), 20260])
        out.append(rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64) if n else
                   np.zeros((resamples, 0)))
    return out


def resampled_curves(counts: ImageCounts, weights: Sequence[np.ndarray]) -> np.ndarray:
    """``[R, T]`` mIoU curve of every bootstrap resample."""
    total = count = None
    for i, p, g, w in zip(counts.inter, counts.pred, counts.gt, weights):
        if not len(g):
            continue
        iou = _ratio(w @ i, w @ (g[:, None] + p - i))  # [R, T]
        ok = np.isfinite(iou)
        if total is None:
            total, count = np.zeros(iou.shape), np.zeros(iou.shape)
        total += np.where(ok, iou, 0.0)
        count += ok
    if total is None:
        raise ConfigError("no evaluated image: nothing to bootstrap")
    return _ratio(total, count)


@dataclass(frozen=True)
class ProtocolValues:
    """One mode under the three protocols: point values ``[3]`` (fixed, calibrated, auc; NaN for
    calibrated without a calibration split), thresholds, and the bootstrap values ``[R, 3]``."""

    point: np.ndarray
    fixed_threshold: float
    calibrated_threshold: float | None
    resampled: np.ndarray


def protocol_values(counts: ImageCounts, calib: ImageCounts | None, threshold: float,
                    weights: Sequence[np.ndarray]) -> ProtocolValues:
    """Evaluate ``counts`` under every protocol, with the bootstrap ``weights`` (same for every mode)."""
    t = counts.thresholds
    j_fixed = _index(t, threshold)
    j_cal = None
    if calib is not None:
        if not np.array_equal(calib.thresholds, t):
            raise ConfigError("calibration and evaluation counts use different threshold grids")
        curve = calib.miou_curve()
        if np.isfinite(curve).any():
            j_cal = int(np.nanargmax(curve))  # first maximum = lowest threshold among ties
    point_curve = counts.miou_curve()
    boot = resampled_curves(counts, weights)
    point = np.array([point_curve[j_fixed], np.nan if j_cal is None else point_curve[j_cal], auc(t, point_curve)])
    res = np.stack([boot[:, j_fixed], boot[:, j_cal] if j_cal is not None else np.full(len(boot), np.nan),
                    auc(t, boot)], axis=1)
    return ProtocolValues(point, float(t[j_fixed]), None if j_cal is None else float(t[j_cal]), res)


def with_auc_of(values: ProtocolValues, other: ProtocolValues) -> ProtocolValues:
    """``values`` with its AUC (point and resamples) taken from ``other``: a mode whose AUC reads
    other counts (a reference map's AUC width, :mod:`repcam_core.evaluation.reference`)."""
    point, resampled = values.point.copy(), values.resampled.copy()
    point[2], resampled[:, 2] = other.point[2], other.resampled[:, 2]
    return ProtocolValues(point, values.fixed_threshold, values.calibrated_threshold, resampled)


def auc(thresholds: np.ndarray, curve: np.ndarray) -> np.ndarray | float:
    """Area under ``curve`` (``[..., T]``) over ``thresholds`` spanning [0, 1] (trapezoid rule);
    NaN points (no class evaluated at that threshold) count as 0."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t[0] > 0 or t[-1] < 1:
        raise ConfigError("the AUC needs a threshold grid from 0 to 1")
    return np.trapezoid(np.nan_to_num(np.asarray(curve, dtype=np.float64), nan=0.0), t, axis=-1)


def summarise(values: Mapping[str, ProtocolValues], baseline: str | None = "Baseline") -> dict[str, Any]:
    """The JSON blocks ``protocols`` and ``vs_baseline`` (percent, 2 decimals) of every mode.

    ``vs_baseline`` compares each mode with ``baseline`` on the same resamples (omitted when the
    Baseline was not evaluated)."""
    protocols: dict[str, dict[str, Any]] = {p: {} for p in PROTOCOLS}
    for mode, v in values.items():
        for k, name in enumerate(PROTOCOLS):
            entry: dict[str, Any] = {"miou": pct(v.point[k]), "ci": _ci(v.resampled[:, k])}
            if name == "fixed":
                entry["threshold"] = v.fixed_threshold
            elif name == "calibrated":
                entry["threshold"] = v.calibrated_threshold
            protocols[name][mode] = entry
    vs: dict[str, dict[str, Any]] = {p: {} for p in PROTOCOLS}
    base = values.get(baseline) if baseline else None
    if base is not None:
        for mode, v in values.items():
            if mode == baseline:
                continue
            for k, name in enumerate(PROTOCOLS):
                diff = v.resampled[:, k] - base.resampled[:, k]
                vs[name][mode] = {"diff": pct(v.point[k] - base.point[k]), "ci": _ci(diff),
                                  "p_better": _p_better(diff)}
    return {"protocols": protocols, "vs_baseline": vs}


def aggregate_protocols(per_seed: Sequence[Mapping[str, ProtocolValues]], modes: Sequence[str],
                        baseline: str = "Baseline") -> dict[str, Any]:
    """Mean and sd across seeds of each protocol's point value (and of each difference with
    ``baseline``), from each seed's unrounded values (``per_seed``: mode -> ProtocolValues, as
    :meth:`repcam_core.running.experiment.Experiment.run` keeps them), rounded once
    (:func:`repcam_core.evaluation.percent.mean_sd`); ``per_seed`` lists each seed's rounded figure as its
    own JSON shows it. Modes in ``modes`` order; the vs-Baseline block only where every seed
    evaluated ``baseline``."""
    def stats(fractions: list[float]) -> dict[str, Any]:
        mean, sd = mean_sd(fractions)
        return {"mean": mean, "sd": sd, "per_seed": [pct(f) for f in fractions]}

    out: dict[str, Any] = {"protocols": {p: {} for p in PROTOCOLS}, "vs_baseline": {p: {} for p in PROTOCOLS}}
    bases = [s.get(baseline) for s in per_seed]
    for mode in modes:
        values = [s[mode] for s in per_seed]
        for k, name in enumerate(PROTOCOLS):
            agg = stats([float(v.point[k]) for v in values])
            if name != "auc":
                agg["thresholds"] = [v.fixed_threshold if name == "fixed" else v.calibrated_threshold for v in values]
            out["protocols"][name][mode] = agg
            if mode != baseline and all(b is not None for b in bases):
                diff = stats([float(v.point[k] - b.point[k]) for v, b in zip(values, bases)])
                diff["p_better"] = [_p_better(v.resampled[:, k] - b.resampled[:, k]) for v, b in zip(values, bases)]
                out["vs_baseline"][name][mode] = diff
    return out


def _index(thresholds: np.ndarray, t: float) -> int:
    hits = np.flatnonzero(np.isclose(thresholds, t, rtol=0, atol=1e-9))
    if not hits.size:
        raise ConfigError(f"threshold {t} is not on the evaluated grid")
    return int(hits[0])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    ok = np.isfinite(x)
    return _ratio(np.where(ok, x, 0.0).sum(axis), ok.sum(axis))


def _p_better(diff: np.ndarray) -> float | None:
    """The share of resamples in which a mode is strictly better than the Baseline (4 decimals)."""
    finite = diff[np.isfinite(diff)]
    return None if not finite.size else round(float((finite > 0).mean()), 4)


def _ci(samples: np.ndarray) -> list[float | None]:
    ok = samples[np.isfinite(samples)]
    if not ok.size:
        return [None, None]
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return [pct(lo), pct(hi)]
