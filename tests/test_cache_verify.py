"""``repcam cache verify [--repair]``: every item checked in full, a report a script can read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repcam_core.storage.cache import ArtifactCache
from repcam_core.running.verify import verify_cache
from repcam_core.cli import main
from repcam_core.data.dataset import load_split
from repcam_core.data.voc import VOCDataset
from repcam_core.data.world import WorldConfig
from repcam_core.data.world_files import ensure_default_world

SMALL = WorldConfig(n_families=2, classes_per_family=2, train_per_class=3, val_per_class=2, calib_per_class=1,
                    width=40, height=32)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    cache = ArtifactCache(root)
    for i in range(3):
        cache.get_or_create("maps", {"i": i}, lambda tmp, i=i: (tmp / "maps.bin").write_bytes(bytes(100 + i)),
                            lambda p: None)
    world = VOCDataset(ensure_default_world(root, SMALL))
    load_split(world, "val", 32, cache_dir=root / "decoded", cache_root=root)
    return root


@pytest.fixture
def cache(pristine, tmp_path) -> Path:
    shutil.copytree(pristine, tmp_path / "cache")
    return tmp_path / "cache"


def _verify(cache: Path, *flags: str, capsys) -> tuple[int, dict]:
    code = main(["cache", "verify", "--cache", str(cache), "--json", *flags])
    return code, json.loads(capsys.readouterr().out)


def test_an_intact_cache_verifies_clean_with_exit_0(cache, capsys):
    code, report = _verify(cache, capsys=capsys)
    assert code == 0 and report["ok"] and report["damaged"] == []
    assert report["checked"] == {"decoded splits": 1, "maps": 3, "world files": 4 * (3 + 2 + 1) * 2 + 5}  # images + masks + 5 text files


def test_damage_of_each_kind_is_found_named_and_repaired(cache, capsys):
    entry = next((cache / "maps").iterdir())
    size = (entry / "maps.bin").stat().st_size
    (entry / "maps.bin").write_bytes(b"short")
    npz = next((cache / "decoded").glob("*.npz"))
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    world = next((cache / "datasets").iterdir())
    jpg = world / "JPEGImages" / "val_00001.jpg"
    original_jpg = jpg.read_bytes()
    jpg.write_bytes(original_jpg[:50])
    leftover = entry.with_name(f".{entry.name}.tmp-dead")
    leftover.mkdir()

    code, report = _verify(cache, capsys=capsys)
    assert code == 1 and not report["ok"]
    found = {d["item"]: d["problem"] for d in report["damaged"]}
    assert found == {f"maps/{entry.name}": f"maps.bin: truncated to 5 of {size} bytes",
                     f"decoded/{npz.name}": found[f"decoded/{npz.name}"],
                     f"datasets/{world.name}/JPEGImages/val_00001.jpg": found[
                         f"datasets/{world.name}/JPEGImages/val_00001.jpg"]}
    assert "CRC-32" in found[f"decoded/{npz.name}"] and "truncated" in found[
        f"datasets/{world.name}/JPEGImages/val_00001.jpg"]
    assert [d["item"] for d in report["leftovers"]] == [f"maps/{leftover.name}"]

    code, report = _verify(cache, "--repair", capsys=capsys)
    assert code == 0 and report["ok"] and len(report["damaged"]) == 3
    assert all(d["action"] for d in report["damaged"] + report["leftovers"])
    assert jpg.read_bytes() == original_jpg and not entry.exists() and not npz.exists() and not leftover.exists()
    code, report = _verify(cache, capsys=capsys)
    assert code == 0 and report["damaged"] == [] and report["leftovers"] == [] and report["quarantined"] == 3


def test_the_text_report_says_what_to_do(cache, capsys):
    entry = next((cache / "maps").iterdir())
    (entry / "manifest.json").write_text("{")
    assert main(["cache", "verify", "--cache", str(cache)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"verified {cache}: 1 decoded splits, 3 maps, 53 world files")
    assert out[1].startswith(f"damaged   maps/{entry.name}: manifest.json: unreadable")
    assert out[-1].startswith("result: 1 damaged item(s); `repcam cache verify --repair`")


def test_entries_from_before_records_are_noted_not_damaged(cache):
    entry = next((cache / "maps").iterdir())
    man = json.loads((entry / "manifest.json").read_text())
    for key in ("files", "inputs", "crc32"):
        man.pop(key)
    (entry / "manifest.json").write_text(json.dumps(man))
    report = verify_cache(cache)
    assert report.damaged == [] and report.unrecorded == [f"maps/{entry.name}"]


def test_verifying_a_missing_cache_is_one_error_line_not_a_new_directory(tmp_path, capsys):
    assert main(["cache", "verify", "--cache", str(tmp_path / "nowhere")]) == 2
    assert "no cache directory at" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def test_leftovers_are_removed_only_when_nobody_writes_their_item(tmp_path):
    """``repcam cache clean`` (clear_stale) and ``verify --repair`` remove a killed writer's
    temporary file or directory, but keep it while its item's lock is held (being written now)."""
    from repcam_core.storage.integrity import cache_lock

    cache = ArtifactCache(tmp_path)
    entry = cache.entry("maps", {"i": 0})
    entry.parent.mkdir(parents=True)
    as_dir, as_file = entry.with_name(f".{entry.name}.tmp-dir"), entry.with_name(f".{entry.name}.tmp-file")

    def leave() -> None:
        as_dir.mkdir(exist_ok=True)
        (as_dir / "half.bin").write_bytes(b"12")
        as_file.write_bytes(b"34")

    names = sorted(f"maps/{p.name}" for p in (as_dir, as_file))
    leave()
    with cache_lock(tmp_path, entry):  # a writer of the item holds its lock
        assert cache.clear_stale() == 0
        report = verify_cache(tmp_path, repair=True)
    assert as_dir.is_dir() and as_file.is_file()
    assert sorted((f.item, f.action) for f in report.leftovers) == [(n, "kept: being written now") for n in names]
    assert verify_cache(tmp_path).leftovers[0].action == ""  # no repair: reported, nothing done
    assert as_dir.is_dir() and as_file.is_file()
    report = verify_cache(tmp_path, repair=True)
    assert sorted((f.item, f.action) for f in report.leftovers) == [(n, "removed") for n in names]
    assert list(entry.parent.iterdir()) == []
    leave()
    assert cache.clear_stale() == 2 and list(entry.parent.iterdir()) == []
