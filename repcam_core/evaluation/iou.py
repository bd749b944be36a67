"""The paper's metric: mIoU of thresholded CAMs against segmentation ground truth (Tables 1-5).

For a target class c, the CAMs of the images of class c are binarised at a threshold (0.15 in
the paper) and compared with the ground-truth pixels of class c. Intersections and unions are
summed over all images of the class (not averaged per image), giving one IoU per class; mIoU is
the mean over the classes that were evaluated. Void pixels (255 in VOC masks) count nowhere.

Also here: the standard semantic-segmentation mIoU (background included) of pseudo labels made
from CAMs, for comparison with weakly-supervised segmentation papers.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from repcam_core.errors import ConfigError

DEFAULT_THRESHOLD = 0.15
DEFAULT_CURVE = np.round(np.arange(0.05, 0.951, 0.05), 2)
VOID = 255
_CHUNK_ELEMENTS = 1 << 25  # booleans materialised at once when comparing to many thresholds


class IoUAccumulator:
    """Per-class, per-threshold intersection and union pixel counts of binarised CAMs.

    Args:
        num_classes: C, number of object classes (mask values ``1..C``).
        thresholds: T thresholds; a pixel is predicted when ``cam >= t``.
    """

    def __init__(self, num_classes: int, thresholds: Sequence[float] = (DEFAULT_THRESHOLD,)):
        if num_classes < 1:
            raise ConfigError(f"num_classes must be at least 1, got {num_classes}")
        t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
        if t.size == 0:
            raise ConfigError("at least one threshold is needed")
        if not np.isfinite(t).all():
            raise ConfigError("thresholds must be finite numbers")
        self.num_classes = int(num_classes)
        self.thresholds = t
        self.intersection = np.zeros((self.num_classes, t.size), dtype=np.int64)
        self.union = np.zeros((self.num_classes, t.size), dtype=np.int64)
        self.images = np.zeros(self.num_classes, dtype=np.int64)

    def update(self, c: int, cams: torch.Tensor, masks: torch.Tensor) -> None:
        """Add a batch of images of class ``c``.

        Args:
            c: target class index ``0..C-1`` (its mask value is ``c + 1``).
            cams: ``[B, H, W]`` (or ``[H, W]``) float CAMs in [0, 1] for class c.
            masks: ``[B, H, W]`` (or ``[H, W]``) uint8 ground truth: 0 background, ``1..C``
                classes, 255 void.
        """
        if not 0 <= c < self.num_classes:
            raise ConfigError(f"class index {c} is out of range for {self.num_classes} classes")
        cams, masks = _as_batch(cams), _as_batch(masks)
        if cams.shape != masks.shape:
            raise ConfigError(f"cams {tuple(cams.shape)} and masks {tuple(masks.shape)} differ")
        masks = masks.to(cams.device)
        valid = masks != VOID
        gt = masks == (c + 1)
        if not cams.is_floating_point():
            cams = cams.float()
        cam_valid = cams[valid]
        cam_gt = cams[gt]  # gt pixels are never void
        # thresholds in the CAMs' dtype, so counts match ``cams >= t`` exactly
        t = torch.as_tensor(self.thresholds, dtype=cams.dtype, device=cams.device)
        inter = _count_at_least(cam_gt, t)
        pred = _count_at_least(cam_valid, t)
        n_gt = int(cam_gt.numel())
        self.intersection[c] += inter
        self.union[c] += n_gt + pred - inter
        self.images[c] += cams.shape[0]

    def iou(self) -> np.ndarray:
        """``[C, T]`` IoU per class and threshold; NaN where the union is 0 (never evaluated)."""
        out = np.full(self.union.shape, np.nan)
        np.divide(self.intersection, self.union, out=out, where=self.union > 0)
        return out

    def per_class(self, t_index: int = 0) -> np.ndarray:
        """``[C]`` IoU per class at threshold ``thresholds[t_index]``."""
        return self.iou()[:, t_index]

    def miou(self, t_index: int = 0) -> float:
        """Mean IoU over evaluated classes at ``thresholds[t_index]``; NaN if none."""
        return _nanmean(self.per_class(t_index))

    def merge(self, other: "IoUAccumulator") -> "IoUAccumulator":
        """Add ``other``'s counts into this accumulator (same C and thresholds); returns self."""
        if other.num_classes != self.num_classes or not np.array_equal(
            other.thresholds, self.thresholds
        ):
            raise ConfigError("cannot merge IoU accumulators with different classes or thresholds")
        self.intersection += other.intersection
        self.union += other.union
        self.images += other.images
        return self

    def state_dict(self) -> dict[str, Any]:
        """Plain-Python state (lists and ints), safe to write as JSON."""
        return {
            "num_classes": self.num_classes,
            "thresholds": self.thresholds.tolist(),
            "intersection": self.intersection.tolist(),
            "union": self.union.tolist(),
            "images": self.images.tolist(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "IoUAccumulator":
        """Rebuild an accumulator written by :meth:`state_dict`."""
        acc = cls(int(state["num_classes"]), state["thresholds"])
        shape = acc.intersection.shape
        try:
            acc.intersection = np.asarray(state["intersection"], dtype=np.int64).reshape(shape)
            acc.union = np.asarray(state["union"], dtype=np.int64).reshape(shape)
            acc.images = np.asarray(state["images"], dtype=np.int64).reshape(acc.num_classes)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"IoU accumulator state is malformed: {exc}") from None
        return acc


def segmentation_from_cams(cams: torch.Tensor, bg_threshold: float) -> torch.Tensor:
    """IRN-style pseudo labels: argmax over a constant background plane and the class CAMs.

    Args:
        cams: ``[B, C, H, W]`` CAMs in [0, 1], one channel per class (zeros for absent classes).
        bg_threshold: background score; a pixel is background unless some class CAM exceeds it
            (ties go to background).

    Returns:
        ``[B, H, W]`` uint8 labels: 0 background, ``c + 1`` for class channel c.
    """
    if cams.ndim != 4:
        raise ConfigError(f"cams must be [B, C, H, W], got shape {tuple(cams.shape)}")
    if cams.shape[1] > 254:
        raise ConfigError(f"at most 254 classes fit in uint8 labels, got {cams.shape[1]}")
    bg = torch.full_like(cams[:, :1], float(bg_threshold))
    return torch.cat([bg, cams], dim=1).argmax(dim=1).to(torch.uint8)


class SegmentationAccumulator:
    """Confusion matrix for semantic segmentation over C classes plus background (label 0).

    Rows are ground truth, columns prediction; void (255) pixels are ignored.
    """

    def __init__(self, num_classes: int):
        if num_classes < 1:
            raise ConfigError(f"num_classes must be at least 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.confusion = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)

    def update(self, pred: torch.Tensor, masks: torch.Tensor) -> None:
        """Add ``pred`` and ``masks``, both ``[B, H, W]`` (or ``[H, W]``) labels ``0..C``/255."""
        pred, masks = _as_batch(pred), _as_batch(masks)
        if pred.shape != masks.shape:
            raise ConfigError(f"pred {tuple(pred.shape)} and masks {tuple(masks.shape)} differ")
        n = self.num_classes + 1
        masks = masks.to(pred.device).long()
        valid = masks != VOID
        gt, pr = masks[valid], pred.long()[valid]
        if gt.numel() and (int(gt.max()) >= n or int(gt.min()) < 0):
            raise ConfigError(f"mask values must be 0..{n - 1} or {VOID}")
        if pr.numel() and (int(pr.max()) >= n or int(pr.min()) < 0):
            raise ConfigError(f"predicted labels must be 0..{n - 1}")
        counts = torch.bincount(gt * n + pr, minlength=n * n)
        self.confusion += counts.cpu().numpy().reshape(n, n)

    def iou(self) -> np.ndarray:
        """``[C + 1]`` IoU per label (index 0 background); NaN where the label never occurs."""
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        out = np.full(tp.shape, np.nan)
        np.divide(tp, union, out=out, where=union > 0)
        return out

    def miou(self) -> float:
        """Mean IoU over labels that occur (background included); NaN if none."""
        return _nanmean(self.iou())

    def merge(self, other: "SegmentationAccumulator") -> "SegmentationAccumulator":
        """Add ``other``'s confusion matrix into this one; returns self."""
        if other.num_classes != self.num_classes:
            raise ConfigError("cannot merge segmentation accumulators with different classes")
        self.confusion += other.confusion
        return self


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.ndim == 2:
        return x.unsqueeze(0)
    if x.ndim != 3:
        raise ConfigError(f"expected [B, H, W] or [H, W], got shape {tuple(x.shape)}")
    return x


def _count_at_least(values: torch.Tensor, thresholds: torch.Tensor) -> np.ndarray:
    """``[T]`` int64: how many of ``values`` ``[N]`` are ``>= thresholds[t]``, in chunks."""
    T, N = thresholds.numel(), values.numel()
    out = np.zeros(T, dtype=np.int64)
    if N == 0:
        return out
    step = max(1, _CHUNK_ELEMENTS // N)
    for start in range(0, T, step):
        t = thresholds[start:start + step, None]
        out[start:start + step] = (values[None, :] >= t).sum(dim=1).cpu().numpy()
    return out


def _nanmean(x: np.ndarray) -> float:
    finite = x[~np.isnan(x)]
    return float(finite.mean()) if finite.size else float("nan")
