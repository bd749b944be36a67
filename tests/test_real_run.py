"""A short ``repcam run`` on the real COCO val2017 files under ../shared, and class subsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from repcam_core.cli import main
from repcam_core.data.dataset import Split

COCO_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-val2017-mini"


def test_short_run_on_real_coco_files(tmp_path, capsys):
    if not COCO_MINI.is_dir():
        pytest.skip(f"{COCO_MINI} is absent")
    args = ["run", "--dataset", f"coco:{COCO_MINI}", "--train-split", "val-single", "--eval-split", "val",
            "--classes", "auto", "--modes", "Baseline,S-1+A+F", "--clusters", "2", "--min-cluster-size", "2",
            "--epochs", "2", "--binary-epochs", "1", "--image-size", "48", "--device", "cpu",
            "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--json", "--quiet"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the real mini set has single-category images for these classes only (COCO names)
    assert {"airplane", "sheep", "suitcase"} <= set(data["classes"])
    assert len(data["classes"]) >= 2 and "person" not in data["classes"]
    assert all(v is None or 0 <= v <= 100 for v in data["miou"].values())


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
