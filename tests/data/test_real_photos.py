"""The readers on the real photos under ../shared/data (through the ``shared_data`` fixture):
Oxford-Pet-3 in the Pet layout, and MSRC-v2's own ``calib`` split picked by the VOC reader."""

from __future__ import annotations

import numpy as np
from PIL import Image

from repcam_core.running.config import RunConfig
from repcam_core.data.dataset import load_split
from repcam_core.data.pets import PetDataset
from repcam_core.data.voc import VOCDataset
from repcam_core.running.pipeline import Pipeline


def _lines(path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_oxford_pet_3_breeds_splits_and_carve_out(shared_data):
    root = shared_data / "oxford-pet-3"
    ds = PetDataset(root)
    listed = {f[0]: int(f[1]) for f in _lines(root / "annotations" / "list.txt")}
    by_id = sorted({cid: name.rsplit("_", 1)[0] for name, cid in listed.items()}.items())
    assert ds.class_names == tuple(name for _, name in by_id) and len(ds.class_names) == 3
    trainval = [f[0] for f in _lines(root / "annotations" / "trainval.txt")]
    test = [f[0] for f in _lines(root / "annotations" / "test.txt")]
    assert ds.split_ids("trainval") == trainval and ds.split_ids("test") == test
    train, calib = ds.split_ids("train"), ds.split_ids("calib")
    assert sorted(train + calib) == sorted(trainval) and not set(train) & set(calib) and not set(calib) & set(test)
    for c in range(3):  # stratified: 20 % of each breed's trainval images
        n = sum(ds.class_of(i) == c for i in trainval)
        assert sum(ds.class_of(i) == c for i in calib) == round(0.2 * n)
    present = {p.stem for p in (root / "images").glob("*.jpg")}
    assert len(present - set(listed)) == 2 and not (set(trainval) | set(test)) - set(listed)  # two unlisted images


def test_oxford_pet_3_masks_from_the_trimaps(shared_data):
    root = shared_data / "oxford-pet-3"
    ds = PetDataset(root)
    image_id = ds.split_ids("calib")[0]
    trimap = np.asarray(Image.open(root / "annotations" / "trimaps" / f"{image_id}.png"))
    mask = ds.load_mask(image_id)
    c = ds.class_of(image_id)
    assert np.array_equal(mask == c + 1, trimap == 1) and np.array_equal(mask == 0, trimap == 2)
    assert np.array_equal(mask == 255, trimap == 3)
    split = load_split(ds, "calib", 32)
    assert len(split) == 60 and not split.skipped
    assert split.labels.sum(0).tolist() == [20, 20, 20]


def test_oxford_pet_3_pipeline_defaults(shared_data, tmp_path):
    p = Pipeline(RunConfig(dataset=f"pets:{shared_data / 'oxford-pet-3'}"), cache=tmp_path)
    assert (p.config.train_split, p.config.eval_split, p.calibration_split_name) == ("train", "test", "calib")


def test_msrc_v2_calibrates_on_its_own_calib_split(shared_data, tmp_path):
    root = shared_data / "msrc-v2"
    p = Pipeline(RunConfig(dataset=f"voc:{root}"), cache=tmp_path)
    assert p.calibration_split_name == "calib"  # not the default VOC rule's 'train' (the training images)
    ds = VOCDataset(root)
    calib, train, val = (set(ds.split_ids(s)) for s in ("calib", "train", "val"))
    assert len(calib) == 92 and not calib & train and not calib & val
