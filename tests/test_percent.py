"""One rounding rule: every percentage rounded once from unrounded values (repcam_core.evaluation.percent),
a mode's mIoU computed once, and means over seeds taken before rounding."""

from __future__ import annotations

import math

import numpy as np

from repcam_core.evaluation.percent import fmt, fraction_fmt, mean_sd, pct, pct_fmt, points
from repcam_core.evaluation.protocols import ImageCounts, bootstrap_weights, protocol_values, summarise
from repcam_core.evaluation.results import ModeResult, Results, aggregate_seeds

GRID = [0.0, 0.15, 0.5, 1.0]
CLASSES = 12  # from 8 classes on numpy's nanmean sums a column in another order than a row-wise sum


def test_pct_rounds_once_and_is_json_safe():
    assert pct(0.123456) == 12.35 and pct(1) == 100.0 and pct(0) == 0.0
    assert pct(None) is None and pct(float("nan")) is None and pct(math.inf) is None
    assert math.copysign(1, pct(-0.00001)) == 1.0  # no "-0.00"
    assert points(29.551 - 29.55) == 0.0 and points(None) is None
    assert fmt(pct(0.2)) == "20.00" and fmt(pct(0.0312), signed=True) == "+3.12" and fmt(None) == "n/a"
    assert pct_fmt(float("nan"), missing="—") == "—" and pct_fmt(0.05, decimals=1) == "5.0"
    assert fraction_fmt(0.339749) == "0.3397" and fraction_fmt(float("nan")) == ""


def test_mean_and_sd_are_taken_before_rounding():
    fractions = [0.244144, 0.244244]  # 24.41 and 24.42 as shown; their mean is 24.4194
    assert [pct(f) for f in fractions] == [24.41, 24.42]
    assert mean_sd(fractions) == (24.42, 0.01)  # sd: 0.0001 / sqrt(2) = 0.0071 points, shown as 0.01
    assert mean_sd([0.3, None, float("nan")]) == (30.0, 0.0) and mean_sd([None]) == (None, None)
    # five equal values: the spread is 0 once rounded, whatever the last bit of the mean
    assert mean_sd([0.1234567] * 5) == (12.35, 0.0)


def _counts(rng: np.random.Generator, images: int = 3) -> ImageCounts:
    """Per-image counts of ``CLASSES`` classes at the thresholds ``GRID`` (monotone, like real ones)."""
    counts = ImageCounts.empty(CLASSES, GRID)
    for c in range(CLASSES):
        gt = rng.integers(20, 200, images)
        pred = np.sort(rng.integers(0, 400, (images, len(GRID))), axis=1)[:, ::-1]
        inter = np.minimum(pred, gt[:, None]) * rng.uniform(0.2, 1.0, (images, 1))
        counts.add(c, inter.astype(np.int64), pred, gt)
    return counts


def _results(counts: ImageCounts, seed: int) -> Results:
    weights = bootstrap_weights(counts.images, 50, seed)
    values = {"Baseline": protocol_values(counts, None, 0.15, weights)}
    modes = {"Baseline": ModeResult("Baseline", GRID, 1, counts)}
    return Results(tuple(f"c{i}" for i in range(CLASSES)), 0.15, modes, {}, summarise(values), {}, values)


def test_a_modes_miou_is_the_fixed_protocols_value_to_the_last_bit():
    """Both figures are shown side by side (``miou`` and ``protocols.fixed``): one computation."""
    differs = 0
    for seed in range(10):
        counts = _counts(np.random.default_rng(seed))
        result, value = _results(counts, seed).modes["Baseline"], _results(counts, seed).values["Baseline"]
        assert result.miou == value.point[0]
        differs += float(np.nanmean(result.per_class)) != value.point[0]
    assert differs, "no case where numpy's own nanmean sums in another order: the check above proves nothing"


def test_seed_means_in_every_block_agree_and_come_from_unrounded_values():
    per_seed = {s: _results(_counts(np.random.default_rng(6 + s)), s) for s in range(3)}
    data = aggregate_seeds(per_seed)
    fractions = [r.modes["Baseline"].miou for r in per_seed.values()]
    # these seeds were picked so that averaging the rounded figures gives another last digit
    assert round(float(np.mean([pct(f) for f in fractions])), 2) != mean_sd(fractions)[0]
    fixed = data["protocols"]["fixed"]["Baseline"]
    assert data["miou"]["Baseline"] == fixed["mean"] == mean_sd(fractions)[0]
    assert data["miou_std"]["Baseline"] == fixed["sd"] == mean_sd(fractions)[1]
    assert [data["per_seed"][str(s)]["Baseline"] for s in per_seed] == fixed["per_seed"] == [pct(f) for f in fractions]
    assert [r.to_json()["miou"]["Baseline"] for r in per_seed.values()] == fixed["per_seed"]
    for k, name in enumerate(("fixed", "calibrated", "auc")):
        if name != "calibrated":  # no calibration split here
            unrounded = [float(r.values["Baseline"].point[k]) for r in per_seed.values()]
            assert data["protocols"][name]["Baseline"]["mean"] == mean_sd(unrounded)[0]
