"""A short ``repcam run`` on the real COCO val2017 files under ../shared, and class subsets."""

from __future__ import annotations

import json

import torch

from repcam_core.cli import main
from repcam_core.data.dataset import Split


def test_short_run_on_real_coco_files(shared_data, tmp_path, capsys):
    coco = shared_data / "coco-val2017-mini"
    args = ["run", "--dataset", f"coco:{coco}", "--train-split", "val-single", "--eval-split", "val",
            "--classes", "auto", "--modes", "Baseline,S-1+A+F", "--clusters", "2", "--min-cluster-size", "2",
            "--epochs", "2", "--binary-epochs", "1", "--image-size", "48", "--device", "cpu",
            "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--json", "--quiet"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    data = json.loads(out.strip().splitlines()[-1])
    # the real mini set has single-category images for these classes only (COCO names)
    assert {"airplane", "sheep", "suitcase"} <= set(data["classes"])
    assert len(data["classes"]) >= 2 and "person" not in data["classes"]
    # every mode was scored (a figure, not None) at the fixed threshold and by AUC, from the real masks
    assert list(data["miou"]) == ["Baseline", "S-1+A+F"]
    assert all(v is not None and 0 <= v <= 100 for v in data["miou"].values()), data["miou"]
    for proto in ("fixed", "auc"):
        for mode, e in data["protocols"][proto].items():
            assert e["miou"] is not None and e["ci"][0] <= e["miou"] <= e["ci"][1], (proto, mode, e)
    # the mini set is val2017 only: no images disjoint from val to calibrate on, so the calibrated
    # protocol is off, said once, and not a figure computed on the evaluation images
    assert data["calibration"]["split"] is None and "calibrat" in err
    assert all(e["miou"] is None for e in data["protocols"]["calibrated"].values())
    scored = [v for v in data["per_class"]["S-1+A+F"].values() if v is not None]
    assert len(scored) >= 2  # classes with evaluation masks, each with an IoU


def _split() -> Split:
    masks = torch.tensor([[[0, 1], [2, 3]], [[3, 3], [0, 255]]], dtype=torch.uint8)
    labels = torch.tensor([[True, True, True], [False, False, True]])
    return Split(ids=["a", "b"], images=torch.zeros(2, 3, 2, 2, dtype=torch.uint8), masks=masks, labels=labels,
                 class_names=("x", "y", "z"))


def test_subset_renumbers_kept_classes_and_voids_the_others():
    sub = _split().subset([2, 0])  # keep z (-> 0) and x (-> 1)
    assert sub.class_names == ("z", "x")
    assert sub.masks[0].tolist() == [[0, 2], [255, 1]]  # x=1 -> 2, y=2 -> void, z=3 -> 1
    assert sub.masks[1].tolist() == [[1, 1], [0, 255]]
    assert sub.labels.tolist() == [[True, True], [True, False]]


def test_images_with_a_dropped_class_are_not_single_label():
    sub = _split().subset([2])  # image "a" also holds x and y: not single-label any more
    assert sub.single_label_indices(0).tolist() == [1]
