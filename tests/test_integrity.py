"""File records, quarantine and storage errors (integrity.py), and what the artifact cache does
with them: damaged entries (or inputs) moved aside and recomputed, never a traceback or a loop."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest

from repcam_core.storage.cache import MANIFEST, ArtifactCache
from repcam_core.errors import CacheWriteError, IntegrityWarning
from repcam_core.storage.integrity import (
    QUARANTINE,
    Damaged,
    check_file,
    file_record,
    quarantine,
    read_sealed,
    record_files,
    seal,
    storage_error,
)


# ------------------------------------------------------------------ primitives
def test_check_file_names_truncation_flipped_bytes_and_absence(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(bytes(range(200)))
    record = file_record(f)
    assert check_file(f, record) is None
    f.write_bytes(bytes(range(100)))
    assert check_file(f, record) == "truncated to 100 of 200 bytes"
    data = bytearray(range(200))
    data[150] ^= 1
    f.write_bytes(bytes(data))
    assert check_file(f, record).startswith("bytes changed (CRC-32")
    f.unlink()
    assert check_file(f, record) == "missing"


def test_shallow_check_trusts_an_unchanged_mtime_and_restamps_an_intact_copy(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 64)
    record = file_record(f)
    os.utime(f, ns=(0, record[1] + 10**9))  # a copy without -p: same bytes, new mtime
    assert check_file(f, record, deep=False) is None
    assert f.stat().st_mtime_ns == record[1]  # the record's mtime is back: the next check is a stat
    f.write_bytes(b"y" * 64)  # same size, new bytes, new mtime: caught without deep
    assert check_file(f, record, deep=False).startswith("bytes changed")


def test_records_of_a_tree_are_size_mtime_and_crc32_of_each_file_by_posix_path(tmp_path):
    """Every file under the folder, sorted by relative POSIX path; ``skip``'s names and temporary
    leftovers left out; each record as one file's (computed here with zlib, not by the module)."""
    import zlib

    files = {"b.bin": b"bee" * 1000, "a/z.txt": b"zed", "a/deeper/x": bytes(range(256)) * 5000, "manifest.json": b"{}",
             "a/.x.tmp-123": b"half", ".b.bin.tmp-9": b"half", ".hidden": b"kept"}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    os.utime(tmp_path / "a/z.txt", ns=(1, 1_234_567_891_011))

    def record(rel: str) -> list:
        return [len(files[rel]), (tmp_path / rel).stat().st_mtime_ns, f"{zlib.crc32(files[rel]):08x}"]

    got = record_files(tmp_path, skip=("manifest.json",))
    assert list(got) == [".hidden", "a/deeper/x", "a/z.txt", "b.bin"]
    assert got == {rel: record(rel) for rel in got}
    assert got["a/z.txt"][1] == 1_234_567_891_011
    assert file_record(tmp_path / "b.bin") == file_record(str(tmp_path / "b.bin")) == record("b.bin")


def test_a_sealed_record_notices_its_own_damage(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(seal({"files": {"a": [1, 2, "00000000"]}})))
    assert read_sealed(path)["files"] == {"a": [1, 2, "00000000"]}
    path.write_text(path.read_text().replace('"a"', '"b"'))
    with pytest.raises(Exception, match="bytes changed"):
        read_sealed(path)


def test_quarantine_moves_the_item_logs_why_and_warns_once(tmp_path):
    item = tmp_path / "kind" / "entry"
    item.mkdir(parents=True)
    (item / "f").write_text("bad")
    with pytest.warns(IntegrityWarning, match=f"{item} is damaged \\(f: truncated\\); moved to .*recomputing it"):
        dest = quarantine(item, tmp_path, "f: truncated")
    assert not item.exists() and (dest / "f").read_text() == "bad"
    assert dest.parent == tmp_path / QUARANTINE / "kind"
    log = [json.loads(line) for line in (tmp_path / QUARANTINE / "log.jsonl").read_text().splitlines()]
    assert log[0]["from"] == "kind/entry" and log[0]["problem"] == "f: truncated"


def test_storage_errors_become_one_line_only_for_the_cache(tmp_path):
    full = storage_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert isinstance(full, CacheWriteError) and f"the cache {tmp_path} is full" in str(full)
    denied = storage_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x")), tmp_path)
    assert "cannot be written" in str(denied) and "run the same command again" in str(denied)
    assert storage_error(PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"), tmp_path) is None
    assert storage_error(FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path)), tmp_path) is None


# ------------------------------------------------------------------ the cache
class Counted:
    """create/load callbacks that count how often they ran."""

    def __init__(self, text: str = "value", cache: ArtifactCache | None = None, needs: tuple = ()) -> None:
        self.text, self.cache, self.needs, self.created = text, cache, needs, 0

    def create(self, tmp: Path) -> None:
        self.created += 1
        parts = [self.cache.get_or_create(k, key, c.create, c.load) for k, key, c in self.needs]
        (tmp / "value.txt").write_text(self.text + "".join(parts))

    @staticmethod
    def load(path: Path) -> str:
        return (path / "value.txt").read_text()


def test_manifest_records_each_file_and_the_entries_read_while_creating(tmp_path):
    cache = ArtifactCache(tmp_path)
    inner = Counted("b")
    outer = Counted("a", cache, needs=(("inner", {"i": 1}, inner),))
    assert cache.get_or_create("outer", {"o": 1}, outer.create, outer.load) == "ab"
    man = cache.manifest("outer", {"o": 1})
    assert man["files"]["value.txt"][0] == 2
    assert man["inputs"] == [cache.entry("inner", {"i": 1}).relative_to(tmp_path).as_posix()]


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest", "delete manifest"])
def test_a_damaged_entry_is_moved_aside_with_one_warning_and_recomputed(tmp_path, damage):
    cache = ArtifactCache(tmp_path)
    c = Counted("hello world")
    cache.get_or_create("k", {"a": 1}, c.create, c.load)
    entry = cache.entry("k", {"a": 1})
    if damage == "truncate":
        (entry / "value.txt").write_text("hello")
    elif damage == "flip":
        (entry / "value.txt").write_text("jello world")
    elif damage == "manifest":
        (entry / MANIFEST).write_text((entry / MANIFEST).read_text().replace('"k"', '"q"'))
    else:
        (entry / MANIFEST).unlink()
    with pytest.warns(IntegrityWarning, match=f"{entry}") as seen:
        assert cache.get_or_create("k", {"a": 1}, c.create, c.load) == "hello world"
    assert len(seen) == 1 and c.created == 2
    assert len(list((tmp_path / QUARANTINE / "k").iterdir())) == 1
    assert cache.get_or_create("k", {"a": 1}, c.create, c.load) == "hello world" and c.created == 2


def test_an_entry_that_cannot_be_loaded_is_recomputed_but_a_fresh_one_that_cannot_is_a_bug(tmp_path):
    cache = ArtifactCache(tmp_path)
    c = Counted()
    cache.get_or_create("k", {"a": 1}, c.create, c.load)
    (cache.entry("k", {"a": 1}) / "stale").touch()  # e.g. an entry from before records: files unchecked

    def load_fails_on_stale(path: Path) -> str:
        if (path / "stale").exists():
            raise ValueError("unreadable header")
        return c.load(path)

    with pytest.warns(IntegrityWarning, match="cannot be loaded \\(ValueError: unreadable header\\)"):
        assert cache.get_or_create("k", {"a": 1}, c.create, load_fails_on_stale) == "value"
    assert c.created == 2

    def never_loads(path: Path) -> str:
        raise ValueError("the loader is wrong")

    with pytest.warns(IntegrityWarning), pytest.raises(ValueError, match="the loader is wrong"):
        cache.get_or_create("k", {"a": 1}, c.create, never_loads)
    assert c.created == 3  # recomputed once, then the failure on fresh data is raised: no loop


def test_a_damaged_input_is_recomputed_through_the_entry_that_needs_it(tmp_path):
    cache = ArtifactCache(tmp_path)
    model = Counted("model")
    maps = Counted("maps+", cache, needs=(("model", {"m": 1}, model),))
    result = Counted("result+", cache, needs=(("maps", {"p": 1}, maps),))
    assert cache.get_or_create("result", {"r": 1}, result.create, result.load) == "result+maps+model"
    (cache.entry("model", {"m": 1}) / "value.txt").write_text("mod")  # the result itself is intact

    fresh = ArtifactCache(tmp_path)  # the next run
    with pytest.warns(IntegrityWarning, match="model/.* is damaged .*recomputing it for result/") as seen:
        assert fresh.get_or_create("result", {"r": 1}, result.create, result.load) == "result+maps+model"
    assert len(seen) == 1
    assert (model.created, maps.created, result.created) == (2, 2, 2)
    assert Counted.load(cache.entry("model", {"m": 1})) == "model"


def test_damage_deep_in_a_chain_is_found_by_every_entry_built_on_it_in_one_process(tmp_path):
    """An entry whose direct inputs this process has vouched for skips re-reading its inputs'
    records; a check that fails part-way must therefore vouch for nothing, or a sibling entry
    built on the same inputs would be served over a damaged model."""
    cache = ArtifactCache(tmp_path)
    model = Counted("model")
    maps = Counted("maps+", cache, needs=(("model", {"m": 1}, model),))
    result = Counted("result+", cache, needs=(("maps", {"p": 1}, maps),))
    plot = Counted("plot+", cache, needs=(("maps", {"p": 1}, maps),))
    cache.get_or_create("result", {"r": 1}, result.create, result.load)
    cache.get_or_create("plot", {"q": 1}, plot.create, plot.load)
    (cache.entry("model", {"m": 1}) / "value.txt").write_text("mod")

    fresh = ArtifactCache(tmp_path)  # the next process
    maps.cache = result.cache = plot.cache = fresh
    with pytest.raises(Damaged):
        fresh.check(cache.entry("result", {"r": 1}))  # maps' files still match; the model's do not
    with pytest.warns(IntegrityWarning, match="model/.* is damaged .*recomputing it for plot/"):
        assert fresh.get_or_create("plot", {"q": 1}, plot.create, plot.load) == "plot+maps+model"
    assert (model.created, plot.created) == (2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # now intact, and vouched for: served without a warning
        assert fresh.get_or_create("result", {"r": 1}, result.create, result.load) == "result+maps+model"


def test_an_input_deleted_on_purpose_leaves_what_was_computed_from_it_valid(tmp_path):
    cache = ArtifactCache(tmp_path)
    model = Counted("model")
    result = Counted("result+", cache, needs=(("model", {"m": 1}, model),))
    cache.get_or_create("result", {"r": 1}, result.create, result.load)
    shutil.rmtree(cache.entry("model", {"m": 1}))
    assert ArtifactCache(tmp_path).get_or_create("result", {"r": 1}, result.create, result.load) == "result+model"
    assert (model.created, result.created) == (1, 1)


def test_a_full_disk_gives_one_error_and_leaves_no_half_entry(tmp_path):
    cache = ArtifactCache(tmp_path)

    def create(tmp: Path) -> None:
        (tmp / "half").write_text("12")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CacheWriteError, match=f"the cache {tmp_path} is full: No space left on device"):
        cache.get_or_create("k", {"a": 1}, create, Counted.load)
    assert list((tmp_path / "k").iterdir()) == []
    assert cache.get_or_create("k", {"a": 1}, Counted().create, Counted.load) == "value"


def test_a_read_only_cache_serves_what_it_holds_and_refuses_new_work_in_one_line(tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    cache.get_or_create("k", {"a": 1}, Counted("kept").create, Counted.load)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "k"))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    assert cache.get_or_create("k", {"a": 1}, Counted().create, Counted.load) == "kept"
    with pytest.raises(CacheWriteError, match="cannot be written"):
        cache.get_or_create("k", {"a": 2}, Counted().create, Counted.load)


def test_leftovers_of_a_killed_writer_are_removed_when_the_entry_is_made(tmp_path):
    cache = ArtifactCache(tmp_path)
    entry = cache.entry("k", {"a": 1})
    leftover = entry.with_name(f".{entry.name}.tmp-dead")
    leftover.mkdir(parents=True)
    (leftover / "half.bin").write_bytes(b"12")
    cache.get_or_create("k", {"a": 1}, Counted().create, Counted.load)
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name]
