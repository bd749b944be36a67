"""Malformed VOC-layout directories: each gives a clear DatasetError, or a warning naming the
file, through the reader, the decoder and the ``repcam`` command (one line, exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repcam_core.cli import main
from repcam_core.data.dataset import load_split
from repcam_core.data.voc import VOCDataset
from repcam_core.errors import DatasetError

sys.path.insert(0, str(Path(__file__).parent))
from test_voc import make_voc  # noqa: E402  (sibling test helper, no package __init__)

# each test counts once it passed: the malformed directory got its error or warning naming the file
pytestmark = pytest.mark.survives("malformed datasets survived (an error or a warning naming the file)")

CLASSES = ["red", "green"]


def _masks(n: int = 3) -> dict[str, np.ndarray]:
    out = {}
    for i in range(n):
        m = np.zeros((16, 20), np.uint8)
        m[4:10, 6:12] = 1 + i % 2
        out[f"im{i}"] = m
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_voc(tmp_path / "voc", _masks(), classes=CLASSES)


def _split_file(root: Path, split: str = "val") -> Path:
    return root / "ImageSets" / "Segmentation" / f"{split}.txt"


def test_an_empty_split_names_its_file(root):
    _split_file(root).write_text("\n  \n")
    with pytest.raises(DatasetError, match=f"split 'val' is empty: {_split_file(root)} lists no image ids"):
        load_split(VOCDataset(root), "val", 16)


def test_a_mask_of_another_size_than_its_image_is_skipped_with_a_warning_naming_it(root):
    Image.fromarray(np.zeros((9, 9), np.uint8), mode="L").save(root / "SegmentationClass" / "im1.png")
    with pytest.warns(UserWarning, match=r"skipping .*im1\.png: mask .*im1\.png is 9x9 but its image is 20x16"):
        split = load_split(VOCDataset(root), "val", 16)
    assert split.ids == ["im0", "im2"] and split.skipped[0][0].endswith("im1.png")


def test_mask_ids_above_the_class_count_are_skipped_with_a_warning_naming_the_file(root):
    m = _masks()["im2"]
    m[0, 0] = 7
    Image.fromarray(m, mode="L").save(root / "SegmentationClass" / "im2.png")
    with pytest.warns(UserWarning, match=r"skipping .*im2\.png: .*values \[7\] outside 0..2 and 255 .*class list"):
        split = load_split(VOCDataset(root), "val", 16)
    assert split.ids == ["im0", "im1"]


def test_duplicate_ids_in_a_split_file_warn_naming_it_and_are_used_once(root):
    _split_file(root).write_text("im0\nim1\nim0\nim2\nim1\n")
    with pytest.warns(UserWarning, match=f"{_split_file(root)} lists 2 id\\(s\\) more than once \\(e.g. 'im0'\\)"):
        assert VOCDataset(root).split_ids("val") == ["im0", "im1", "im2"]


@pytest.mark.parametrize("encoding", ["crlf", "bom", "bom+crlf"])
def test_crlf_and_byte_order_mark_split_and_class_files_read_as_plain_ones(root, encoding):
    newline = "\r\n" if "crlf" in encoding else "\n"
    bom = b"\xef\xbb\xbf" if "bom" in encoding else b""
    _split_file(root).write_bytes(bom + newline.join(["im0", "im1", "im2", ""]).encode())
    (root / "classes.txt").write_bytes(bom + newline.join([*CLASSES, ""]).encode())
    ds = VOCDataset(root)
    assert ds.class_names == tuple(CLASSES) and ds.split_ids("val") == ["im0", "im1", "im2"]
    assert len(load_split(ds, "val", 16)) == 3


def test_a_split_file_that_is_not_text_names_its_file(root):
    _split_file(root).write_bytes(b"\xff\xfe\x00im0\x81\n")
    with pytest.raises(DatasetError, match=f"{_split_file(root)} is not UTF-8 text"):
        VOCDataset(root).split_ids("val")


def test_a_class_list_shorter_than_the_masks_warns_naming_each_mask_or_errs_when_none_fits(root):
    (root / "classes.txt").write_text("red\n")  # im1's mask uses id 2
    with pytest.warns(UserWarning, match=r"skipping .*im1\.png: .*values \[2\] outside 0..1 .*class list"):
        assert load_split(VOCDataset(root), "val", 16).ids == ["im0", "im2"]
    _split_file(root).write_text("im1\n")
    with pytest.warns(UserWarning), pytest.raises(DatasetError, match="none of the 1 images .* first problem: .*"
                                                                      "values \\[2\\] outside 0..1 .*class list"):
        load_split(VOCDataset(root), "val", 16)


def test_a_class_list_longer_than_the_masks_is_one_error_line_naming_the_classes(root, tmp_path, capsys):
    make_voc(root, _masks(4), split="train")
    (root / "classes.txt").write_text("red\ngreen\nblue\n")  # no mask uses blue
    code = main(["run", "--dataset", str(root), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
                 "--modes", "Baseline", "--quiet", "--device", "cpu", "--image-size", "16"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("repcam: error:")]
    assert "no single-label training images for class(es): blue" in line


@pytest.mark.parametrize("malformed", ["empty split", "not text", "short class list"])
def test_the_command_gives_one_line_and_exit_2_for_a_malformed_directory(root, tmp_path, capsys, malformed):
    make_voc(root, _masks(4), split="train")
    if malformed == "empty split":
        _split_file(root).write_text("")
    elif malformed == "not text":
        _split_file(root, "train").write_bytes(b"\x80\x81\x82")
    else:
        (root / "classes.txt").write_text("red\n")
    code = main(["run", "--dataset", str(root), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
                 "--modes", "Baseline", "--quiet", "--device", "cpu", "--image-size", "16"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.startswith("repcam: error:")]) == 1
