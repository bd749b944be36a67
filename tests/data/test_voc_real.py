"""The VOC reader on the real PASCAL VOC 2012 files under ../shared (one val image and its palette
mask), and the devkit extras: image-level labels from Annotations/*.xml (``main/*`` splits, no
masks) and SegmentationClassAug masks (``aug/*`` splits)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repcam_core.data.dataset import load_split
from repcam_core.data.voc import VOC_CLASSES, VOCDataset
from repcam_core.errors import DatasetError

IMAGE_ID = "2007_000123"
TRAIN = VOC_CLASSES.index("train")

XML = """<annotation><folder>VOC2012</folder><filename>{id}.jpg</filename>
<size><width>500</width><height>375</height><depth>3</depth></size>
{objects}</annotation>"""
OBJ = "<object><name>{name}</name><difficult>{d}</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>" \
      "<xmax>9</xmax><ymax>9</ymax></bndbox></object>"


@pytest.fixture()
def real_voc(shared_data) -> Path:
    """The real PASCAL VOC 2012 files (one val image and its palette mask) under ../shared/data."""
    return shared_data / "voc2012-one"


@pytest.fixture()
def devkit(real_voc, tmp_path) -> Path:
    """A VOCdevkit/VOC2012 copy of the real files plus Annotations and ImageSets/Main."""
    root = tmp_path / "VOCdevkit" / "VOC2012"
    shutil.copytree(real_voc, root)
    (root / "Annotations").mkdir()
    (root / "ImageSets" / "Main").mkdir(parents=True)
    objects = OBJ.format(name="train", d=0) + OBJ.format(name="person", d=1)
    (root / "Annotations" / f"{IMAGE_ID}.xml").write_text(XML.format(id=IMAGE_ID, objects=objects))
    (root / "ImageSets" / "Main" / "trainval.txt").write_text(f"{IMAGE_ID}\n")
    (root / "ImageSets" / "Main" / "train_trainval.txt").write_text(f"{IMAGE_ID}  1\n")  # per-class list
    return root


def test_real_val_image_and_palette_mask(real_voc):
    ds = VOCDataset(real_voc)
    assert ds.class_names == VOC_CLASSES and ds.split_ids("val") == [IMAGE_ID]
    image, mask = ds.load_image(IMAGE_ID), ds.load_mask(IMAGE_ID)
    assert image.shape == (375, 500, 3) and mask.shape == (375, 500)
    assert set(np.unique(mask).tolist()) == {0, TRAIN + 1, 255}
    split = load_split(ds, "val", 64)
    assert split.has_masks and split.labels[0].nonzero().flatten().tolist() == [TRAIN]
    assert split.single_label_indices(TRAIN).tolist() == [0]
    assert set(np.unique(split.masks.numpy()).tolist()) <= {0, TRAIN + 1, 255}


def test_devkit_root_is_found_and_xml_labels_train_without_masks(devkit, tmp_path):
    ds = VOCDataset(devkit.parent.parent)  # the VOCdevkit's parent
    assert ds.root == devkit
    assert ds.splits() == ["val", "main/trainval"]
    assert not ds.has_masks("main/trainval")
    labels = ds.image_labels("main/trainval", IMAGE_ID)
    assert np.flatnonzero(labels).tolist() == sorted([TRAIN, VOC_CLASSES.index("person")])  # difficult counts
    split = load_split(ds, "main/trainval", 32, cache_dir=tmp_path / "decoded")
    assert not split.has_masks and split.masks.shape == (1, 32, 32) and (split.masks == 255).all()
    again = load_split(ds, "main/trainval", 32, cache_dir=tmp_path / "decoded")  # from the .npz
    assert not again.has_masks and again.labels.tolist() == split.labels.tolist()
    assert list((tmp_path / "decoded").glob("*-main_trainval-32.npz"))


def test_xml_labels_change_the_fingerprint(devkit):
    ds = VOCDataset(devkit)
    before = ds.fingerprint("main/trainval")
    (devkit / "Annotations" / f"{IMAGE_ID}.xml").write_text(XML.format(id=IMAGE_ID, objects=OBJ.format(name="train", d=0)) + " ")
    assert VOCDataset(devkit).fingerprint("main/trainval") != before


def test_missing_devkit_parts_are_named(devkit):
    shutil.rmtree(devkit / "Annotations")
    with pytest.raises(DatasetError, match=r"split 'main/trainval' not found .*missing Annotations/"):
        VOCDataset(devkit).split_ids("main/trainval")
    with pytest.raises(DatasetError, match=r"missing ImageSets/Main/train\.txt"):
        VOCDataset(devkit).split_ids("main/train")
    with pytest.raises(DatasetError, match=r"missing .*SegmentationClassAug/"):
        VOCDataset(devkit).split_ids("aug/val")


def test_unknown_xml_class_and_missing_xml_are_skipped_with_the_file_named(devkit):
    (devkit / "ImageSets" / "Main" / "trainval.txt").write_text(f"{IMAGE_ID}\n2007_999999\n")
    ds = VOCDataset(devkit)
    assert [p.name for p in ds.missing_files("main/trainval")] == ["2007_999999.jpg", "2007_999999.xml"]
    (devkit / "Annotations" / f"{IMAGE_ID}.xml").write_text(XML.format(id=IMAGE_ID, objects=OBJ.format(name="ufo", d=0)))
    with pytest.warns(UserWarning, match=r"2007_000123\.xml names class 'ufo'"), \
            pytest.raises(DatasetError, match="none of the 2 images"):
        load_split(VOCDataset(devkit), "main/trainval", 32)


def test_segmentation_class_aug_masks(devkit):
    aug = devkit / "SegmentationClassAug"
    aug.mkdir()
    mask = np.array(Image.open(devkit / "SegmentationClass" / f"{IMAGE_ID}.png"))
    mask[mask == 255] = 0  # SBD masks have no void border
    Image.fromarray(mask, mode="L").save(aug / f"{IMAGE_ID}.png")
    ds = VOCDataset(devkit)
    assert "aug/val" in ds.splits()
    assert ds.mask_path(IMAGE_ID, "aug/val") == aug / f"{IMAGE_ID}.png"
    split = load_split(ds, "aug/val", 32)
    assert split.has_masks and 255 not in split.masks.unique().tolist()
    assert split.labels[0].nonzero().flatten().tolist() == [TRAIN]
