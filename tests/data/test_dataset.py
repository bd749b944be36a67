"""Decoded splits: shapes, labels from full masks, skipping bad files, the npz cache."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from repcam_core.data import dataset as dataset_module
from repcam_core.data.dataset import Split, load_split
from repcam_core.data.voc import VOCDataset
from repcam_core.errors import ConfigError, DatasetError

sys.path.insert(0, str(Path(__file__).parent))
from test_voc import make_voc  # noqa: E402  (sibling test helper, no package __init__)

CLASSES = ["red", "green", "blue"]


def _masks() -> dict[str, np.ndarray]:
    a = np.zeros((12, 20), np.uint8)
    a[4:8, 8:12] = 1
    a[3, 8:12] = 255
    b = np.zeros((12, 20), np.uint8)
    b[4:8, 8:12] = 2
    b[0:3, 0:2] = 3  # class 3 only in the columns the centre crop drops
    c = np.zeros((20, 12), np.uint8)
    c[8:12, 4:8] = 2
    return {"a": a, "b": b, "c": c}


@pytest.fixture()
def voc(tmp_path: Path) -> VOCDataset:
    return VOCDataset(make_voc(tmp_path / "voc", _masks(), classes=CLASSES))


def test_load_split_shapes_dtypes_and_labels_from_full_masks(voc: VOCDataset) -> None:
    calls: list[tuple[int, int]] = []
    split = load_split(voc, "val", 8, progress=lambda done, total: calls.append((done, total)))
    assert split.ids == ["a", "b", "c"] and len(split) == 3 and split.skipped == []
    assert split.images.shape == (3, 3, 8, 8) and split.images.dtype == torch.uint8
    assert split.masks.shape == (3, 8, 8) and split.masks.dtype == torch.uint8
    assert split.labels.tolist() == [[True, False, False], [False, True, True], [False, True, False]]
    assert 3 not in split.masks[1].unique().tolist()  # cropped away, but still a label
    assert 255 in split.masks[0].unique().tolist()
    assert split.class_names == tuple(CLASSES)
    assert calls[-1] == (3, 3) and len(calls) == 3


def test_label_queries() -> None:
    labels = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 1, 0], [1, 0, 0]], dtype=torch.bool)
    split = Split(ids=list("abcd"), images=torch.zeros(4, 3, 2, 2, dtype=torch.uint8),
                  masks=torch.zeros(4, 2, 2, dtype=torch.uint8), labels=labels, class_names=("x", "y", "z"))
    assert split.single_label_indices(0).tolist() == [0, 3]
    assert split.single_label_indices(1).tolist() == [2]
    assert split.class_indices(1).tolist() == [1, 2]
    assert split.single_label_counts() == [2, 1, 0]
    with pytest.raises(ConfigError, match="class index 3 out of range 0..2"):
        split.class_indices(3)


def test_corrupt_image_is_skipped_with_a_warning_naming_it(voc: VOCDataset) -> None:
    bad = voc.image_path("b")
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.warns(UserWarning, match=r"skipping .*b\.jpg: "):
        split = load_split(voc, "val", 8)
    assert split.ids == ["a", "c"] and len(split.skipped) == 1
    assert split.skipped[0][0] == str(bad)


def test_corrupt_mask_is_skipped_and_named(voc: VOCDataset) -> None:
    voc.mask_path("c").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=r"skipping .*c\.png: "):
        split = load_split(voc, "val", 8)
    assert split.skipped[0][0] == str(voc.mask_path("c"))


def test_mask_values_beyond_the_classes_are_skipped(voc: VOCDataset, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "odd", {**_masks(), "z": np.full((8, 8), 9, np.uint8)}, classes=CLASSES)
    with pytest.warns(UserWarning, match=r"values \[9\] outside 0..3 and 255"):
        split = load_split(VOCDataset(root), "val", 8)
    assert len(split) == 3


def test_all_unreadable_raises_dataset_error(voc: VOCDataset) -> None:
    for image_id in voc.split_ids("val"):
        voc.image_path(image_id).write_bytes(b"nope")
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match="none of the 3 images"):
        load_split(voc, "val", 8)


def test_cache_is_written_once_and_reused_without_decoding(
    voc: VOCDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = load_split(voc, "val", 8, cache_dir=cache)
    files = [f for f in cache.iterdir() if not f.name.startswith(".")]  # .locks: the writers' lock files
    assert [f.name for f in files] == [f"{voc.fingerprint('val')}-val-8.npz"]

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(dataset_module, "_decode_item", no_decoding)
    second = load_split(voc, "val", 8, cache_dir=cache)
    assert second.ids == first.ids and second.class_names == first.class_names
    for name in ("images", "masks", "labels"):
        assert torch.equal(getattr(second, name), getattr(first, name))
    with pytest.raises(AssertionError, match="decoded although cached"):
        load_split(voc, "val", 16, cache_dir=cache)  # another size is another cache entry


def test_cache_keeps_the_skipped_list(voc: VOCDataset, tmp_path: Path) -> None:
    voc.image_path("a").write_bytes(b"nope")
    with pytest.warns(UserWarning):
        first = load_split(voc, "val", 8, cache_dir=tmp_path / "cache")
    second = load_split(voc, "val", 8, cache_dir=tmp_path / "cache")
    assert second.skipped == first.skipped and second.ids == ["b", "c"]


def test_unreadable_cache_is_moved_aside_and_rewritten(voc: VOCDataset, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_split(voc, "val", 8, cache_dir=cache)
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match=f"{path.name} is damaged .*moved to .*decoding the split again"):
        split = load_split(voc, "val", 8, cache_dir=cache)
    assert len(split) == 3 and path.stat().st_size > 100
    assert [p.read_bytes() for p in (cache / ".quarantine").glob(f"{path.name}~*")] == [b"truncated"]
