"""The Oxford-IIIT Pet reader on a generated copy of the full download's layout (37 breeds, both
species, ``#`` headers): classes by CLASS-ID, trimap -> mask, the ``calib`` carve-out, the
defaults of ``pets:``, and one ``repcam: error:`` line naming the file for each bad input."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repcam_core.cli import main
from repcam_core.running.config import RunConfig
from repcam_core.data.calibration import resolve_calibration_split
from repcam_core.data.dataset import load_split
from repcam_core.data.pets import CALIB_SHARE, PetDataset
from repcam_core.errors import DatasetError

PETS = "malformed Pet directories survived (one line naming the file, or a warning)"
"""The "what survives what" counter: the survives marker counts each malformed-directory test once its checks passed."""

sys.path.insert(0, str(Path(__file__).parent))
from pets_layout import BREEDS, CATS, make_pets, trimap  # noqa: E402  (sibling test helper)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    """37 breeds, 5 trainval + 2 test images each, the download's header lines."""
    return make_pets(tmp_path_factory.mktemp("pets") / "oxford-iiit-pet", trainval=5, test=2)


@pytest.fixture
def small(tmp_path) -> Path:
    return make_pets(tmp_path / "pets", breeds=("Abyssinian", "american_bulldog", "Bengal"), trainval=5, test=2)


def test_the_full_layout_gives_37_breeds_by_class_id_with_headers_skipped(full):
    ds = PetDataset(full)
    assert ds.class_names == BREEDS and ds.num_classes == 37
    assert ds.class_names[:3] == ("Abyssinian", "american_bulldog", "american_pit_bull_terrier")
    assert {ds.class_names[ds.class_of(f"{b}_1")] for b in ("Sphynx", "pug")} == {"Sphynx", "pug"}
    assert ds.splits() == ["calib", "test", "train", "trainval"]


def test_a_copy_without_headers_reads_the_same(tmp_path):
    root = make_pets(tmp_path / "p", breeds=("Bengal", "Abyssinian", "pug"), header=False)
    assert "#" not in (root / "annotations" / "list.txt").read_text()
    assert PetDataset(root).class_names == ("Abyssinian", "Bengal", "pug")  # CLASS-IDs 1, 6, 26


def test_calib_is_carved_from_trainval_per_breed_and_train_is_the_rest(full):
    ds = PetDataset(full)
    trainval, train, calib, test = (ds.split_ids(s) for s in ("trainval", "train", "calib", "test"))
    assert set(train) | set(calib) == set(trainval) and not set(train) & set(calib)
    assert not set(trainval) & set(test)
    per_breed = {b: sum(ds.class_names[ds.class_of(i)] == b for i in calib) for b in BREEDS}
    assert set(per_breed.values()) == {round(CALIB_SHARE * 5)}  # 1 of each breed's 5
    assert train == [i for i in trainval if i not in calib]  # trainval's order kept
    again = PetDataset(full)  # a fresh reader carves the same images
    assert again.split_ids("calib") == calib


def test_adding_images_moves_no_other_image_between_train_and_calib(tmp_path):
    five = PetDataset(make_pets(tmp_path / "a", breeds=CATS[:2], trainval=20))
    more = PetDataset(make_pets(tmp_path / "b", breeds=CATS[:2], trainval=21))
    assert set(five.split_ids("calib")) <= set(more.split_ids("calib")) | {f"{CATS[0]}_21", f"{CATS[1]}_21"}
    assert len(five.split_ids("calib")) == 8  # 20 % of 20, per breed


def test_trimaps_become_breed_background_and_void(full):
    ds = PetDataset(full)
    image_id = "Sphynx_3"
    t = trimap(BREEDS.index("Sphynx") * 7 + 2)  # the generator's seed for this image
    assert np.array_equal(np.asarray(Image.open(full / "annotations" / "trimaps" / f"{image_id}.png")), t)
    c = BREEDS.index("Sphynx")
    expected = np.where(t == 1, c + 1, np.where(t == 2, 0, 255))
    assert np.array_equal(ds.load_mask(image_id), expected)
    split = load_split(ds, "test", 8)
    assert split.labels.sum(1).tolist() == [1] * len(split)  # one breed per image, from list.txt
    assert split.labels[split.ids.index("pug_6")].nonzero().flatten().tolist() == [BREEDS.index("pug")]
    assert set(np.unique(split.masks.numpy()).tolist()) <= {0, 255, *range(1, 38)}


def test_pets_defaults_need_no_option(full):
    config = RunConfig(dataset=f"pets:{full}")
    assert (config.train_split, config.eval_split) == ("train", "test")
    assert RunConfig(dataset=str(full)).eval_split == "val"  # other kinds keep val
    assert RunConfig().with_(dataset=f"pets:{full}").eval_split == "test"
    assert resolve_calibration_split(PetDataset(full), "pets", "test", "") == "calib"


def test_fingerprints_follow_files_and_breeds(tmp_path):
    root = make_pets(tmp_path / "p", breeds=CATS[:2])
    before = {s: PetDataset(root).fingerprint(s) for s in ("train", "calib", "test", "trainval")}
    assert len(set(before.values())) == 4
    path = root / "annotations" / "trimaps" / f"{CATS[0]}_5.png"  # a test image's trimap
    Image.fromarray(trimap(99), mode="L").save(path)
    after = {s: PetDataset(root).fingerprint(s) for s in before}
    assert after["test"] != before["test"] and after["trainval"] == before["trainval"]


def test_a_run_on_the_full_layout_reports_37_breeds_evaluated_on_test(full, tmp_path, capsys):
    args = ["run", "--dataset", f"pets:{full}", "--modes", "Baseline", "--image-size", "16", "--epochs", "1",
            "--device", "cpu", "--quiet", "--json", "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
            "--bootstrap", "100"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["classes"] == list(BREEDS)
    assert data["calibration"] == {"split": "calib", "images": 37, "eval_split": "test"}
    assert data["config"]["train_split"] == "train"


# ------------------------------------------------------------------------ bad input, through the CLI
def _error(capsys, root: Path, tmp_path: Path) -> str:
    """Run ``repcam run --dataset pets:root`` (Baseline); the one error line (exit status 2)."""
    code = main(["run", "--dataset", f"pets:{root}", "--modes", "Baseline", "--image-size", "16", "--epochs", "1",
                 "--device", "cpu", "--quiet", "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("repcam: error:")]
    assert code == 2 and len(lines) == 1, err
    return lines[0]


@pytest.mark.survives(PETS)
def test_no_trimaps_or_no_list_is_named(small, tmp_path, capsys):
    (small / "annotations" / "trimaps").rename(small / "annotations" / "elsewhere")
    assert "missing annotations/trimaps/" in _error(capsys, small, tmp_path)
    (small / "annotations" / "elsewhere").rename(small / "annotations" / "trimaps")
    (small / "annotations" / "list.txt").unlink()
    line = _error(capsys, small, tmp_path)
    assert f"not an Oxford-IIIT Pet directory: {small} is missing annotations/list.txt" in line


@pytest.mark.survives(PETS)
def test_an_image_of_a_split_missing_from_list_is_named(small, tmp_path, capsys):
    listing = small / "annotations" / "list.txt"
    listing.write_text("".join(ln + "\n" for ln in listing.read_text().splitlines() if not ln.startswith("Bengal_2 ")))
    line = _error(capsys, small, tmp_path)
    assert f"{small / 'annotations' / 'trainval.txt'} line " in line and "Bengal_2 is not in" in line
    assert str(listing) in line


@pytest.mark.survives(PETS)
def test_a_whole_breed_missing_from_list_is_named(small, tmp_path, capsys):
    listing = small / "annotations" / "list.txt"
    listing.write_text("".join(ln + "\n" for ln in listing.read_text().splitlines() if not ln.startswith("Bengal_")))
    line = _error(capsys, small, tmp_path)
    assert re.search(r"annotations/(trainval|test)\.txt line \d+: Bengal_\d+ is not in .*list\.txt", line)


@pytest.mark.survives(PETS)
@pytest.mark.parametrize("bad, message", [
    ("Bengal_9 6 1", "expected 'Image CLASS-ID SPECIES BREED-ID'"),
    ("Bengal_9 six 1 2", "expected 'Image CLASS-ID SPECIES BREED-ID'"),
    ("Bengal 6 1 2", "does not end in _<number>"),
    ("Bengal_9 1 1 2", "has CLASS-ID 1, which line"),  # class 1 is Abyssinian
    ("Bengal_1 7 1 2", "Bengal_1 has CLASS-ID 7, line"),  # listed twice, differently
])
def test_malformed_list_lines_are_named_with_their_line(small, tmp_path, capsys, bad, message):
    listing = small / "annotations" / "list.txt"
    listing.write_text(listing.read_text() + bad + "\n")
    line = _error(capsys, small, tmp_path)
    assert f"{listing} line " in line and message in line


@pytest.mark.survives(PETS)
def test_a_split_line_that_contradicts_list_is_named(small, tmp_path, capsys):
    split = small / "annotations" / "test.txt"
    split.write_text(split.read_text().replace("Bengal_6 6 1 2", "Bengal_6 1 1 1"))
    line = _error(capsys, small, tmp_path)
    assert f"{split} line " in line and "Bengal_6 has CLASS-ID 1" in line


@pytest.mark.survives(PETS)
def test_a_trimap_with_other_values_is_refused_naming_it(small, tmp_path, capsys):
    path = small / "annotations" / "trimaps" / "Abyssinian_2.png"
    t = trimap(0)
    t[0, 0] = 255
    Image.fromarray(t, mode="L").save(path)
    line = _error(capsys, small, tmp_path)
    assert f"trimap {path} has values [255] outside 1..3" in line


@pytest.mark.survives(PETS)
def test_an_unreadable_trimap_is_skipped_with_a_warning_naming_it(small, tmp_path, capsys):
    path = small / "annotations" / "trimaps" / "Abyssinian_1.png"
    path.write_bytes(b"not a png")
    with pytest.warns(UserWarning, match=f"skipping {path}: cannot decode"):
        split = load_split(PetDataset(small), "trainval", 8)
    assert "Abyssinian_1" not in split.ids and len(split) == 14
    Image.fromarray(trimap(0), mode="L").save(path)
    missing = small / "annotations" / "trimaps" / "Bengal_1.png"
    missing.unlink()
    with pytest.warns(UserWarning, match=f"skipping {missing}: file not found"):
        load_split(PetDataset(small), "trainval", 8)


@pytest.mark.survives(PETS)
def test_an_empty_split_and_an_unknown_split_are_named(small):
    ds = PetDataset(small)
    with pytest.raises(DatasetError, match="split 'val' not found .*available splits: calib, test, train, trainval"):
        ds.split_ids("val")
    (small / "annotations" / "test.txt").write_text("# nothing\n")
    with pytest.raises(DatasetError, match="split 'test' is empty"):
        PetDataset(small).split_ids("test")
    (small / "annotations" / "test.txt").unlink()
    with pytest.raises(DatasetError, match="missing annotations/test.txt"):
        PetDataset(small).split_ids("test")


@pytest.mark.survives(PETS)
def test_an_unreadable_trimap_through_the_cli_is_one_warning_and_counted(small, tmp_path, capsys):
    path = small / "annotations" / "trimaps" / "Bengal_7.png"  # a test image
    path.write_bytes(b"not a png")
    code = main(["run", "--dataset", f"pets:{small}", "--modes", "Ref-Whole", "--image-size", "16", "--quiet",
                 "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert code == 0 and "skipped 1 unreadable file(s)" in out.out
    assert [ln for ln in out.err.splitlines() if ln.startswith("repcam: warning: skipping")] == [
        f"repcam: warning: skipping {path}: cannot decode {path}: cannot identify image file '{path}'"]
    assert json.loads((tmp_path / "o" / "results.json").read_text())["skipped_files"] == [str(path)]
