"""The VOC-layout reader: validation messages, class names, real VOC files, decoding errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repcam_core.data.palette import VOC_COLORMAP, voc_palette
from repcam_core.data.voc import VOC_CLASSES, VOCDataset
from repcam_core.errors import DatasetError, ImageError


def make_voc(root: Path, masks: dict[str, np.ndarray], split: str = "val",
             classes: list[str] | None = None) -> Path:
    """A hand-made VOC-layout dataset with random images and the given 'P' masks."""
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for image_id, mask in masks.items():
        image = rng.integers(0, 255, (*mask.shape, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "JPEGImages" / f"{image_id}.jpg")
        png = Image.fromarray(mask.astype(np.uint8))
        png.putpalette(voc_palette())
        png.save(root / "SegmentationClass" / f"{image_id}.png")
    (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(masks) + "\n")
    if classes is not None:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def test_voc_classes_are_the_twenty_in_standard_order() -> None:
    assert len(VOC_CLASSES) == 20 and VOC_CLASSES[0] == "aeroplane" and VOC_CLASSES[18] == "train"
    assert VOC_CLASSES[-1] == "tvmonitor"


def test_missing_entries_are_named(tmp_path: Path) -> None:
    (tmp_path / "SegmentationClass").mkdir()
    with pytest.raises(DatasetError, match=r"not a VOC-layout dataset: .* is missing JPEGImages/, "
                                           r"ImageSets/Segmentation/$"):
        VOCDataset(tmp_path)


def test_missing_root_and_file_root_are_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist: .*nowhere"):
        VOCDataset(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        VOCDataset(tmp_path / "file.txt")


@pytest.mark.parametrize("sub", ["VOC2012", "VOCdevkit/VOC2012"])
def test_devkit_roots_are_descended_into(tmp_path: Path, sub: str) -> None:
    make_voc(tmp_path / sub, {"a": np.zeros((8, 8), np.uint8)})
    assert VOCDataset(tmp_path).root == tmp_path / sub


def test_class_names_come_from_classes_txt_or_default_to_voc(tmp_path: Path) -> None:
    mask = {"a": np.zeros((8, 8), np.uint8)}
    assert VOCDataset(make_voc(tmp_path / "voc", mask)).class_names == VOC_CLASSES
    ds = VOCDataset(make_voc(tmp_path / "own", mask, classes=["zebra", "apple"]))
    assert ds.class_names == ("zebra", "apple") and ds.num_classes == 2


def test_unknown_split_lists_available_ones(tmp_path: Path) -> None:
    ds = VOCDataset(make_voc(tmp_path, {"a": np.zeros((8, 8), np.uint8)}))
    assert ds.splits() == ["val"] and ds.split_ids("val") == ["a"]
    with pytest.raises(DatasetError, match="split 'train' not found .*available splits: val"):
        ds.split_ids("train")


def test_real_voc_image_and_mask_load(shared_data) -> None:
    ds = VOCDataset(shared_data / "voc2012-one")
    assert ds.split_ids("val") == ["2007_000123"]
    image, mask = ds.load_image("2007_000123"), ds.load_mask("2007_000123")
    assert image.dtype == np.uint8 and image.shape == (375, 500, 3)
    assert mask.dtype == np.uint8 and mask.shape == (375, 500)
    values = set(np.unique(mask).tolist())
    assert values <= set(range(21)) | {255} and 19 in values and 255 in values


def test_rgb_masks_are_mapped_back_to_indices(tmp_path: Path) -> None:
    mask = np.zeros((6, 6), np.uint8)
    mask[1:3, 1:3], mask[4, :] = 7, 255
    root = make_voc(tmp_path, {"a": mask})
    Image.fromarray(VOC_COLORMAP[mask]).save(root / "SegmentationClass" / "a.png")
    assert np.array_equal(VOCDataset(root).load_mask("a"), mask)


def test_rgb_mask_with_foreign_colour_is_rejected(tmp_path: Path) -> None:
    root = make_voc(tmp_path, {"a": np.zeros((4, 4), np.uint8)})
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(root / "SegmentationClass" / "a.png")
    with pytest.raises(ImageError, match=r"a\.png has colour \(7, 7, 7\) not in the VOC palette"):
        VOCDataset(root).load_mask("a")


def test_corrupt_and_missing_files_raise_image_error_naming_them(tmp_path: Path) -> None:
    root = make_voc(tmp_path, {"a": np.zeros((8, 8), np.uint8)})
    ds = VOCDataset(root)
    (root / "JPEGImages" / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match=r"cannot decode .*a\.jpg"):
        ds.load_image("a")
    (root / "SegmentationClass" / "a.png").unlink()
    with pytest.raises(ImageError, match=r"file not found: .*a\.png"):
        ds.load_mask("a")


def test_fingerprint_changes_when_a_file_changes(tmp_path: Path) -> None:
    root = make_voc(tmp_path, {"a": np.zeros((8, 8), np.uint8), "b": np.ones((8, 8), np.uint8)})
    ds = VOCDataset(root)
    before = ds.fingerprint("val")
    assert len(before) == 16 and ds.fingerprint("val") == before
    path = root / "SegmentationClass" / "b.png"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert ds.fingerprint("val") != before
