"""A mode's IoU comes from its per-image counts: the curve, the per-class values and the mIoU a
result shows (objects, JSON, CSV, text) are those of the counts, computed here by hand; the
results JSON files kept in docs/results still read."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from repcam_core.evaluation.percent import pct, pct_fmt
from repcam_core.evaluation.protocols import ImageCounts
from repcam_core.evaluation.results import ModeResult, Results, seeds_text

GRID = [0.1, 0.15, 0.5]
NAMES = ("cat", "dog", "cow")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "results"

# per class: the images' (inter per threshold, pred per threshold, gt); "cow" has no image
IMAGES = {0: [([30, 20, 5], [60, 40, 10], 40), ([10, 10, 0], [10, 12, 0], 25)],
          1: [([0, 0, 0], [80, 50, 3], 15)]}


def _counts() -> ImageCounts:
    counts = ImageCounts.empty(len(NAMES), GRID)
    for c, rows in IMAGES.items():
        for inter, pred, gt in rows:
            counts.add(c, np.array([inter]), np.array([pred]), np.array([gt]))
    return counts


def _by_hand() -> list[list[float]]:
    """IoU per class and threshold: summed intersection / summed union over the class's images."""
    out = []
    for c in range(len(NAMES)):
        row = []
        for t in range(len(GRID)):
            inter = sum(r[0][t] for r in IMAGES.get(c, []))
            union = sum(r[2] + r[1][t] - r[0][t] for r in IMAGES.get(c, []))
            row.append(inter / union if union else math.nan)
        out.append(row)
    return out


def _result() -> ModeResult:
    counts = _counts()
    return ModeResult("S-1+A+F", GRID, 1, counts, {0: [1], 1: [0], 2: []})


def test_a_modes_iou_curve_per_class_and_miou_are_those_of_its_counts():
    r, want = _result(), np.array(_by_hand())
    np.testing.assert_allclose(r.iou, want, rtol=0, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(r.per_class, want[:, 1], rtol=0, atol=1e-15, equal_nan=True)
    assert r.miou == pytest.approx((want[0, 1] + want[1, 1]) / 2, abs=1e-15)  # cow has no image: left out


def test_json_csv_and_text_carry_the_counts_iou():
    want = np.array(_by_hand())[:, 1]
    res = Results(NAMES, 0.15, {"S-1+A+F": _result()}, {"eval_split": "val"})
    data = json.loads(json.dumps(res.to_json()))
    miou = (want[0] + want[1]) / 2
    assert data["miou"] == {"S-1+A+F": pct(miou)}
    assert data["per_class"] == {"S-1+A+F": {"cat": pct(want[0]), "dog": pct(want[1]), "cow": None}}
    assert data["comparisons"] == {"S-1+A+F": {"cat": ["dog"], "dog": ["cat"], "cow": []}}
    rows = list(csv.reader(io.StringIO(res.to_csv())))
    assert rows == [["mode", *NAMES, "mIoU"], ["S-1+A+F", pct_fmt(want[0]), pct_fmt(want[1]), pct_fmt(math.nan),
                                              pct_fmt(miou)]]
    assert res.text().split() == ["S-1+A+F", pct_fmt(miou)]


def test_the_results_json_files_kept_in_docs_still_read():
    """A fresh result's JSON has the layout of the per-seed files kept in docs/results (mode ->
    class -> percent), and results.seeds_text reads the kept aggregate over seeds."""
    fresh = json.loads(json.dumps(Results(NAMES, 0.15, {"S-1+A+F": _result()}, {}).to_json()))
    kept = sorted(DOCS.glob("embedded-seed-[0-9].json")) + sorted(DOCS.glob("photos-*/seed-[0-9].json"))
    assert len(kept) >= 4
    for path in kept:
        old = json.loads(path.read_text())
        assert {"threshold", "classes", "miou", "per_class", "comparisons", "config"} <= set(old) & set(fresh), path
        for m, per in old["per_class"].items():
            assert list(per) == old["classes"] and isinstance(old["miou"][m], (int, float)), (path, m)
            assert all(v is None or isinstance(v, (int, float)) for v in per.values()), (path, m)
    aggregate = json.loads((DOCS / "embedded-seeds-0-1-2.json").read_text())
    text = seeds_text(aggregate)
    assert all(m in text for m in aggregate["miou"]) and "mean ± sd over seeds 0, 1, 2" in text


def test_the_curve_is_derived_from_the_counts_never_taken_beside_them():
    counts = _counts()
    r = ModeResult("Baseline", GRID, 1, counts)  # no curve is passed: it comes from the counts
    np.testing.assert_allclose(r.iou, np.array(_by_hand()), rtol=0, atol=1e-15, equal_nan=True)
    assert r.miou == _result().miou
    with pytest.raises(TypeError):
        ModeResult("Baseline", GRID, 1)  # a result without its counts
