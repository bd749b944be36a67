"""Evaluation protocols: per-image counts, AUC, calibration, bootstrap intervals, paired tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repcam_core.errors import ConfigError
from repcam_core.evaluation.iou import IoUAccumulator
from repcam_core.evaluation.protocols import (CURVE, ImageCounts, auc, bootstrap_weights, count_pixels, curve_with,
                                   protocol_values, summarise)


def _hand_counts(cams: torch.Tensor, masks: torch.Tensor, c: int, t: float) -> tuple[int, int, int]:
    valid = masks != 255
    gt = masks == c + 1
    pred = (cams >= t) & valid
    return int((gt & pred).sum()), int(pred.sum()), int(gt.sum())


def test_counts_match_a_hand_count_per_image_and_threshold():
    cams = torch.tensor([[[0.0, 0.2, 0.5], [1.0, 0.15, 0.7]],
                         [[0.9, 0.9, 0.1], [0.3, 0.05, 0.15]]])
    masks = torch.tensor([[[0, 1, 1], [255, 1, 0]],
                          [[1, 2, 0], [1, 255, 1]]], dtype=torch.uint8)
    thresholds = [0.0, 0.1, 0.15, 0.5, 0.9, 1.0]
    inter, pred, gt = count_pixels(cams, masks, 0, thresholds)
    for b in range(2):
        for k, t in enumerate(thresholds):
            assert (inter[b, k], pred[b, k], gt[b]) == _hand_counts(cams[b], masks[b], 0, t)
    # a void pixel at 1.0 is never predicted; the 0.15 pixel counts at 0.15 (>=)
    assert pred[0].tolist() == [5, 4, 4, 2, 0, 0]


def test_fixed_protocol_equals_the_papers_accumulator_exactly():
    g = torch.Generator().manual_seed(0)
    counts = ImageCounts.empty(3, CURVE)
    acc = IoUAccumulator(3, (0.15,))
    for c in range(3):
        cams = torch.rand(4, 16, 16, generator=g)
        masks = torch.randint(0, 4, (4, 16, 16), generator=g, dtype=torch.uint8)
        masks[:, 0] = 255
        counts.add(c, *count_pixels(cams, masks, c, CURVE))
        acc.update(c, cams, masks)
    j = int(np.flatnonzero(np.isclose(CURVE, 0.15))[0])
    np.testing.assert_array_equal(counts.class_iou()[:, j], acc.per_class(0))


def test_auc_of_hand_made_curves():
    t = np.linspace(0, 1, 5)
    assert auc(t, np.ones(5)) == pytest.approx(1.0)
    assert auc(t, t) == pytest.approx(0.5)               # the diagonal
    assert auc(t, np.array([1, 1, 0, 0, 0.0])) == pytest.approx(0.375)  # trapezoids by hand
    assert auc(t, np.array([1, np.nan, 1, 1, 1])) == pytest.approx(0.75)  # NaN points count as 0
    with pytest.raises(ConfigError, match="from 0 to 1"):
        auc(np.linspace(0.05, 0.95, 5), np.ones(5))


def test_auc_on_the_201_point_grid_is_stable_to_a_tenth_of_a_point():
    """Real CAM-like maps (smooth blobs): the area on CURVE and on a 4x finer grid differ < 0.1 pt."""
    g = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 48), torch.linspace(-1, 1, 48), indexing="ij")
    fine = np.round(np.linspace(0, 1, 801), 5)
    coarse_counts, fine_counts = ImageCounts.empty(2, CURVE), ImageCounts.empty(2, fine)
    for c in range(2):
        centre = torch.rand(6, 2, generator=g) - 0.5
        cams = torch.exp(-((xx - centre[:, :1, None]) ** 2 + (yy - centre[:, 1:, None]) ** 2) * 4)
        cams = (cams + 0.2 * torch.rand(6, 48, 48, generator=g)).clamp(0, 1)
        masks = ((xx - centre[:, :1, None]) ** 2 + (yy - centre[:, 1:, None]) ** 2 < 0.15).to(torch.uint8) * (c + 1)
        coarse_counts.add(c, *count_pixels(cams, masks, c, CURVE))
        fine_counts.add(c, *count_pixels(cams, masks, c, fine))
    a_coarse = auc(CURVE, coarse_counts.miou_curve())
    a_fine = auc(fine, fine_counts.miou_curve())
    assert 0.05 < a_coarse < 0.9
    assert abs(a_coarse - a_fine) * 100 < 0.1


def _counts_from(iou_by_image: list[list[float]], T: int = 3) -> ImageCounts:
    """Counts whose per-image IoU is constant over thresholds: 100 gt pixels, inter = 100 * v."""
    t = np.linspace(0, 1, T)
    counts = ImageCounts.empty(len(iou_by_image), t)
    for c, vals in enumerate(iou_by_image):
        inter = np.array([[round(100 * v)] * T for v in vals])
        pred = inter.copy()
        counts.add(c, inter, pred, np.full(len(vals), 100))
    return counts


def test_bootstrap_is_seeded_reproducible_and_stratified():
    a = bootstrap_weights([5, 3, 0], 200, seed=7)
    b = bootstrap_weights([5, 3, 0], 200, seed=7)
    c = bootstrap_weights([5, 3, 0], 200, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (200, 5) and (a[0].sum(1) == 5).all() and (a[1].sum(1) == 3).all()
    assert a[2].shape == (200, 0)
    # the resamples of a class depend only on (seed, class, its image count): paired across modes
    assert np.array_equal(bootstrap_weights([5, 9], 50, 7)[0], bootstrap_weights([5, 1], 50, 7)[0])


def test_paired_ci_contains_zero_for_identical_maps_and_excludes_it_for_better_ones():
    rng = np.random.default_rng(0)
    base_vals = [list(rng.uniform(0.2, 0.6, 12)) for _ in range(4)]
    base = _counts_from(base_vals)
    same = _counts_from(base_vals)
    better = _counts_from([[min(1.0, v + 0.05) for v in vals] for vals in base_vals])  # every image better
    noisy = _counts_from([list(rng.uniform(0.2, 0.6, 12)) for _ in range(4)])  # unrelated, same level
    w = bootstrap_weights(base.images, 1000, seed=0)
    values = {m: protocol_values(cnt, None, 0.5, w) for m, cnt in
              (("Baseline", base), ("Same", same), ("Better", better), ("Noisy", noisy))}
    vs = summarise(values)["vs_baseline"]
    same_fixed = vs["fixed"]["Same"]
    assert same_fixed["diff"] == 0 and same_fixed["ci"] == [0, 0] and same_fixed["p_better"] == 0
    lo, hi = vs["fixed"]["Better"]["ci"]
    assert 0 < lo <= vs["fixed"]["Better"]["diff"] <= hi and vs["fixed"]["Better"]["p_better"] == 1
    lo, hi = vs["fixed"]["Noisy"]["ci"]
    assert lo < hi and 0 < vs["fixed"]["Noisy"]["p_better"] < 1
    assert vs["calibrated"]["Better"]["diff"] is None  # no calibration split: the protocol is off
    lo, hi = vs["auc"]["Better"]["ci"]
    assert 0 < lo <= hi


def test_calibrated_threshold_comes_from_the_calibration_counts_only():
    t = np.array([0.0, 0.5, 1.0])
    ev = ImageCounts.empty(1, t)
    ev.add(0, np.array([[100, 50, 0]]), np.array([[400, 60, 0]]), np.array([100]))
    cal_a, cal_b = ImageCounts.empty(1, t), ImageCounts.empty(1, t)
    cal_a.add(0, np.array([[100, 90, 0]]), np.array([[100, 90, 0]]), np.array([100]))  # best at 0.0
    cal_b.add(0, np.array([[100, 90, 0]]), np.array([[400, 90, 0]]), np.array([100]))  # best at 0.5
    w = bootstrap_weights(ev.images, 100, 0)
    a, b = protocol_values(ev, cal_a, 0.5, w), protocol_values(ev, cal_b, 0.5, w)
    assert a.calibrated_threshold == 0.0 and a.point[1] == pytest.approx(100 / 400)
    assert b.calibrated_threshold == 0.5 and b.point[1] == pytest.approx(50 / 110)
    assert a.point[0] == b.point[0] == pytest.approx(50 / 110)  # the fixed protocol ignores calibration


def test_curve_always_holds_the_configured_threshold():
    t = curve_with(0.123)
    assert 0.123 in t and t[0] == 0 and t[-1] == 1 and (np.diff(t) > 0).all()
    assert len(curve_with(0.15)) == len(CURVE) == 201


def test_counts_round_trip_through_flat_arrays():
    counts = _counts_from([[0.1, 0.2], [], [0.5]])
    back = ImageCounts.from_arrays(counts.to_arrays())
    assert back.images == [2, 0, 1]
    np.testing.assert_array_equal(back.class_iou(), counts.class_iou())
