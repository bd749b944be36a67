"""The world's files on disk: recorded when written, damaged ones re-rendered byte for byte with
their recorded mtime, so the dataset's fingerprint (and every artifact keyed by it) survives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repcam_core.data.voc import VOCDataset
from repcam_core.data.world import WorldConfig
from repcam_core.data.world_files import ensure_default_world
from repcam_core.data.world_files import RECORD, world_problems
from repcam_core.errors import IntegrityWarning
from repcam_core.storage.integrity import QUARANTINE

SMALL = WorldConfig(n_families=2, classes_per_family=2, train_per_class=3, val_per_class=2, width=40, height=32)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return ensure_default_world(tmp_path_factory.mktemp("cache"), SMALL).parent.parent


@pytest.fixture
def cache(pristine, tmp_path) -> Path:
    shutil.copytree(pristine, tmp_path / "cache")  # copy2 keeps mtimes: the same fingerprints
    return tmp_path / "cache"


def _fingerprints(world: Path) -> tuple[str, str]:
    ds = VOCDataset(world)
    return ds.fingerprint("train"), ds.fingerprint("val")


def test_the_world_is_written_with_a_record_of_every_file(cache):
    world = ensure_default_world(cache, SMALL)
    record = json.loads((world / RECORD).read_text())
    on_disk = {p.relative_to(world).as_posix() for p in world.rglob("*") if p.is_file() and p.name != RECORD}
    assert set(record["files"]) == on_disk and record["config"] == SMALL.to_dict()
    assert world_problems(world, deep=True) == {}


@pytest.mark.parametrize("rel, damage", [
    ("JPEGImages/train_00001.jpg", "truncate"), ("JPEGImages/val_00000.jpg", "flip"),
    ("SegmentationClass/train_00002.png", "flip"), ("SegmentationClass/val_00001.png", "delete"),
    ("classes.txt", "truncate"), ("ImageSets/Segmentation/val.txt", "flip"), ("world.json", "delete"),
])
def test_a_damaged_world_file_is_rendered_again_with_the_same_bytes_and_fingerprint(cache, rel, damage):
    world = ensure_default_world(cache, SMALL)
    before, original = _fingerprints(world), (world / rel).read_bytes()
    data = bytearray(original)
    if damage == "truncate":
        (world / rel).write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
        (world / rel).write_bytes(bytes(data))
    else:
        (world / rel).unlink()
    with pytest.warns(IntegrityWarning, match=f"{world / rel} is (damaged|missing)") as seen:
        assert ensure_default_world(cache, SMALL) == world
    assert len(seen) == 1
    assert (world / rel).read_bytes() == original and _fingerprints(world) == before
    assert len(list((cache / QUARANTINE).rglob(f"{Path(rel).name}~*"))) == (damage != "delete")


def test_a_damaged_record_is_rebuilt_against_a_fresh_rendering(cache):
    world = ensure_default_world(cache, SMALL)
    before = _fingerprints(world)
    (world / RECORD).write_text("{not json")
    (world / "JPEGImages" / "train_00000.jpg").write_bytes(b"garbage")
    with pytest.warns(IntegrityWarning) as seen:
        ensure_default_world(cache, SMALL)
    assert [str(w.message).split(" is ")[0] for w in seen] == [str(world / RECORD),
                                                               str(world / "JPEGImages" / "train_00000.jpg")]
    assert world_problems(world, deep=True) == {}
    assert _fingerprints(world)[1] == before[1]  # val untouched; train's healed file has a new mtime


def test_a_world_from_before_records_is_recorded_as_it_is(cache):
    world = ensure_default_world(cache, SMALL)
    (world / RECORD).unlink()
    before = _fingerprints(world)
    ensure_default_world(cache, SMALL)
    assert (world / RECORD).is_file() and _fingerprints(world) == before
