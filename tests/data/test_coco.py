"""The COCO reader: on the world written in COCO format, on a hand-made file with overlaps, and
on the real COCO val2017 images under ../shared (every mask decoded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repcam_core.data.coco import COCODataset
from repcam_core.data.dataset import load_split
from repcam_core.data.sources import open_dataset
from repcam_core.data.voc import VOCDataset
from repcam_core.data.world import WorldConfig, class_names, write_coco
from repcam_core.data.world_files import generate_world
from repcam_core.errors import DatasetError

WORLD = WorldConfig(n_families=2, classes_per_family=3, train_per_class=5, val_per_class=2, width=40, height=32)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco-world")
    return COCODataset(write_coco(root / "coco", WORLD)), VOCDataset(generate_world(root / "voc", WORLD))


def test_world_classes_are_contiguous_and_named(worlds):
    coco, voc = worlds
    assert coco.class_names == class_names(WORLD) == voc.class_names
    assert coco.splits() == ["train", "train-calib", "train-single", "val", "val-single"]


def test_world_labels_and_masks_match_the_voc_copy(worlds):
    coco, voc = worlds
    for split in ("train", "val"):
        ids = coco.split_ids(split)
        assert len(ids) == len(voc.split_ids(split))
        agree = total = 0
        for cid, vid in zip(ids, voc.split_ids(split)):
            vmask = voc.load_mask(vid)
            cmask = coco.load_mask(cid)
            assert cmask.shape == vmask.shape and cmask.dtype == np.uint8
            vlabels = {int(v) for v in np.unique(vmask) if 0 < v < 255}
            assert set(np.flatnonzero(coco.image_labels(split, cid)) + 1) == vlabels
            valid = vmask != 255
            agree += int((cmask[valid] == vmask[valid]).sum())
            total += int(valid.sum())
        assert agree / total > 0.9  # polygons are convex hulls; RLE ones are exact


def test_single_category_split(worlds):
    coco, _ = worlds
    single = coco.split_ids("train-single")
    assert 0 < len(single) < len(coco.split_ids("train"))
    assert all(coco.image_labels("train", i).sum() == 1 for i in single)
    split = load_split(coco, "train-single", 32)
    assert (split.labels.sum(1) == 1).all() and split.masks.shape == (len(single), 32, 32)


def _tiny_coco(root: Path) -> Path:
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(root / "val2017" / "000000000007.jpg")
    big = [[0, 0, 8, 0, 8, 8, 0, 8]]  # 8x8 square, category id 18
    small = [[4, 4, 10, 4, 10, 8, 4, 8]]  # 6x4, category id 3, overlaps the big one
    crowd = {"counts": [110, 10], "size": [10, 12]}  # column-major: the last column, category 18
    data = {"images": [{"id": 7, "file_name": "000000000007.jpg", "height": 10, "width": 12}],
            "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}, {"id": 90, "name": "toothbrush"}],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 18, "segmentation": big, "area": 64.0, "iscrowd": 0,
                 "bbox": [0, 0, 8, 8]},
                {"id": 2, "image_id": 7, "category_id": 3, "segmentation": small, "area": 24.0, "iscrowd": 0,
                 "bbox": [4, 4, 6, 4]},
                {"id": 3, "image_id": 7, "category_id": 18, "segmentation": crowd, "area": 10.0, "iscrowd": 1,
                 "bbox": [11, 0, 1, 10]}]}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root


def test_category_ids_sorted_to_contiguous_and_the_smaller_instance_wins(tmp_path):
    ds = COCODataset(_tiny_coco(tmp_path))
    assert ds.class_names == ("car", "dog", "toothbrush")  # COCO ids 3, 18, 90
    mask = ds.load_mask("000000000007")
    assert mask[1, 1] == 2 and mask[5, 5] == 1  # dog alone; car over dog
    assert (mask[:, 11] == 2).all()  # the crowd RLE is part of the dog's union
    assert mask[9, 1] == 0
    assert ds.image_labels("val", "000000000007").tolist() == [True, True, False]


def test_layout_errors_say_what_is_missing(tmp_path):
    with pytest.raises(DatasetError, match="missing annotations/"):
        COCODataset(tmp_path)
    (tmp_path / "annotations").mkdir()
    with pytest.raises(DatasetError, match="no instances_"):
        COCODataset(tmp_path)
    root = _tiny_coco(tmp_path / "c")
    ds = COCODataset(root)
    with pytest.raises(DatasetError, match=r"split 'train' not found .*instances_train2017\.json"):
        ds.split_ids("train")
    (root / "val2017" / "000000000007.jpg").unlink()
    (root / "val2017").rmdir()
    with pytest.raises(DatasetError, match=r"missing its image folder val2017/"):
        COCODataset(root).split_ids("val")


def test_coco_spec_opens_the_reader(worlds, tmp_path):
    coco, _ = worlds
    ds = open_dataset(f"coco:{coco.root}", tmp_path)
    assert isinstance(ds, COCODataset) and ds.num_classes == 6


def test_real_coco_val2017_every_mask_decodes(shared_data):
    ds = COCODataset(shared_data / "coco-val2017-mini")
    assert ds.num_classes == 80 and ds.class_names[0] == "person" and ds.class_names[-1] == "toothbrush"
    ids = ds.split_ids("val")
    assert len(ids) == 79
    present = set()
    for image_id in ids:
        image, mask = ds.load_image(image_id), ds.load_mask(image_id)
        assert image.shape[:2] == mask.shape
        labels = ds.image_labels("val", image_id)
        values = {int(v) for v in np.unique(mask) if v}
        assert values <= set(np.flatnonzero(labels) + 1)
        present |= set(np.flatnonzero(labels).tolist())
    assert len(present) == 78
    split = load_split(ds, "val", 48)
    assert split.images.shape == (79, 3, 48, 48) and int(split.masks.max()) <= 80
    assert len(ds.split_ids("val-single")) == int((split.labels.sum(1) == 1).sum())
