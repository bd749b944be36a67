"""Reference maps that need no model: a CAM mode is only worth reporting against them.

* ``Ref-Whole`` — every pixel is foreground (the map is 1 everywhere): at any threshold it
  predicts the whole (non-void) image, so its IoU for class c is the share of c's pixels in
  c's images. Every protocol gives the same figure (the curve is flat).
* ``Ref-Centre`` — a centred isotropic Gaussian ``exp(-d^2 / (2 w^2))``, ``d`` the distance of a
  pixel's centre from the centre of the (square, centre-cropped) image and the width ``w``, both
  in units of the crop's side. Thresholded at ``t`` it predicts the disc of radius
  ``w * sqrt(-2 ln t)``: for a given threshold the width only sets a radius. The width is chosen
  on the **calibration split**, per protocol, from :data:`WIDTHS` (ties: the narrower):

  - ``fixed``: the width whose calibration-split mIoU at the fixed threshold (0.15) is best, i.e.
    the best radius at that threshold;
  - ``calibrated``: the same width, and the threshold chosen on the calibration split as for
    every mode. Width and threshold together only set a radius, so choosing both would choose
    the same thing twice; the threshold alone picks the best radius the grid offers;
  - ``auc``: the width whose calibration-split AUC (area under the mIoU-threshold curve) is best.

  The evaluation split never takes part in a choice. Without a calibration split the mode is
  refused (:mod:`repcam_core.method.feasibility`).

Counting: the Gaussian depends on the pixel only through ``d^2``, so each image's ground-truth
and non-void pixels are histogrammed once over the distinct ``d^2`` values (sorted), and the
pixel counts of every width and threshold are read off the cumulative histograms: the map's
``float32`` value at each distinct ``d^2`` is compared with the ``float32`` threshold exactly as
:func:`repcam_core.evaluation.protocols.count_pixels` compares a map (``tests/test_reference.py`` checks the
two agree). One pass over the masks serves all widths.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from repcam_core.method.modes import Mode
from repcam_core.evaluation.protocols import ImageCounts, auc

WIDTHS: tuple[float, ...] = (0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6,
                             0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
"""Gaussian widths (standard deviations, in units of the crop's side) the calibration split picks from.
The widest are nearly the whole image (at width 5 a pixel is kept below threshold 0.99), so where
the whole image is the better prior the choice can tend to it rather than stop at the grid's end."""
VOID = 255
VERSION = 1
"""Bumped when a reference map's definition changes (its cached results' key)."""


def squared_distances(size: int) -> np.ndarray:
    """``int64 [S, S]``: ``(2i + 1 - S)^2 + (2j + 1 - S)^2``, i.e. ``(2 S d)^2`` with ``d`` the distance
    of pixel (i, j)'s centre from the image centre in units of the side (integers: exact ranks)."""
    k = 2 * np.arange(size, dtype=np.int64) + 1 - size
    return k[:, None] ** 2 + k[None, :] ** 2


def centre_map(size: int, width: float) -> np.ndarray:
    """``float32 [S, S]``: the centred Gaussian of ``width`` (standard deviation / side)."""
    return _gauss(squared_distances(size).astype(np.float64), size, width)


def reference_map(mode: Mode, size: int, width: float | None = None) -> np.ndarray:
    """``float32 [S, S]``: 1 everywhere (Ref-Whole) or the centred Gaussian of ``width`` (Ref-Centre)."""
    return np.ones((size, size), np.float32) if mode.reference == "whole" else centre_map(size, float(width))


def _gauss(d2: np.ndarray, size: int, width: float) -> np.ndarray:
    d2_side = d2 / (2.0 * size) ** 2
    return np.exp(-d2_side / (2.0 * width * width)).astype(np.float32)


def whole_counts(masks: np.ndarray, c: int, thresholds: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Counts of the whole-image map (1 everywhere) for class ``c``: ``inter [n, T]``, ``pred [n, T]``,
    ``gt [n]`` from ``masks uint8 [n, S, S]`` (every threshold in [0, 1] keeps every pixel)."""
    gt = (masks == c + 1).reshape(len(masks), -1).sum(1).astype(np.int64)
    valid = (masks != VOID).reshape(len(masks), -1).sum(1).astype(np.int64)
    T = len(thresholds)
    return np.repeat(gt[:, None], T, 1), np.repeat(valid[:, None], T, 1), gt


class RadialCounts:
    """Per image of class ``c``, cumulative counts of its ground-truth and non-void pixels over the
    distinct squared distances from the centre (nearest first), for :meth:`counts` of any width."""

    def __init__(self, masks: np.ndarray, c: int) -> None:
        n, size = masks.shape[0], masks.shape[-1]
        d2 = squared_distances(size)
        self.size = size
        self.values, rank = np.unique(d2, return_inverse=True)  # distinct d^2, ascending
        rank = rank.reshape(-1)
        K = len(self.values)
        flat = masks.reshape(n, -1)
        self.gt_cum = np.zeros((n, K + 1), np.int64)
        self.valid_cum = np.zeros((n, K + 1), np.int64)
        for i in range(n):
            self.gt_cum[i, 1:] = np.cumsum(np.bincount(rank[flat[i] == c + 1], minlength=K))
            self.valid_cum[i, 1:] = np.cumsum(np.bincount(rank[flat[i] != VOID], minlength=K))

    def counts(self, width: float, thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``inter [n, T]``, ``pred [n, T]``, ``gt [n]`` of the Gaussian of ``width`` at every threshold."""
        g = _gauss(self.values.astype(np.float64), self.size, width)  # non-increasing with d^2
        t = np.asarray(thresholds, dtype=np.float64).astype(np.float32)
        kept = np.searchsorted(-g, -t, side="right")  # distinct values with g >= t (a prefix)
        return self.gt_cum[:, kept], self.valid_cum[:, kept], self.gt_cum[:, -1].copy()


def centre_counts(masks_by_class: Sequence[np.ndarray], thresholds: Sequence[float],
                  widths: Sequence[float] = WIDTHS) -> list[ImageCounts]:
    """One :class:`ImageCounts` per width from each class's masks (``uint8 [n_c, S, S]``)."""
    out = [ImageCounts.empty(len(masks_by_class), thresholds) for _ in widths]
    for c, masks in enumerate(masks_by_class):
        if not len(masks):
            continue
        radial = RadialCounts(masks, c)
        for counts, w in zip(out, widths):
            counts.add(c, *radial.counts(w, thresholds))
    return out


def choose_widths(calib: Sequence[ImageCounts], threshold: float,
                  widths: Sequence[float] = WIDTHS) -> dict[str, int]:
    """Index into ``widths`` per protocol (``fixed``, ``calibrated``, ``auc``), chosen on the
    calibration split's counts ``calib`` (one per width); see the module docstring."""
    t = calib[0].thresholds
    j = int(np.flatnonzero(np.isclose(t, threshold, rtol=0, atol=1e-9))[0])
    curves = np.stack([c.miou_curve() for c in calib])  # [W, T]
    at_fixed = np.nan_to_num(curves[:, j], nan=-1.0)
    areas = np.array([auc(t, curve) for curve in curves])
    fixed = int(np.argmax(at_fixed))  # first maximum: the narrower width on ties
    return {"fixed": fixed, "calibrated": fixed, "auc": int(np.argmax(areas))}


def reference_key(mode: Mode) -> dict[str, Any]:
    """What a reference map's cached result depends on besides the data and the splits."""
    return {"reference": [mode.reference, VERSION], **({"widths": list(WIDTHS)} if mode.reference == "centre" else {})}


def reference_counts(mode: Mode, masks: dict[str, list[np.ndarray]], thresholds: Sequence[float],
                     threshold: float) -> tuple[dict[str, ImageCounts], dict[str, Any]]:
    """A reference map's counts from the masks (per role, ``eval``/``calib``, per class
    ``uint8 [n_c, S, S]``): ``{"eval", "calib"[, "auc.eval"]}`` and, for Ref-Centre, the widths
    chosen per protocol (``{"widths": {"fixed": w, "calibrated": w, "auc": w}}``) for its result."""
    if mode.reference == "whole":
        out = {}
        for role, by_class in masks.items():
            counts = ImageCounts.empty(len(by_class), thresholds)
            for c, m in enumerate(by_class):
                if len(m):
                    counts.add(c, *whole_counts(m, c, thresholds))
            out[role] = counts
        return out, {}
    per_width = {role: centre_counts(by_class, thresholds) for role, by_class in masks.items()}
    chosen = choose_widths(per_width["calib"], threshold)  # never the evaluation split
    out = {"eval": per_width["eval"][chosen["fixed"]], "calib": per_width["calib"][chosen["fixed"]]}
    if chosen["auc"] != chosen["fixed"]:
        out["auc.eval"] = per_width["eval"][chosen["auc"]]
    return out, {"widths": {proto: WIDTHS[i] for proto, i in chosen.items()}}
