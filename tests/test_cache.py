"""The artifact cache: keyed by configuration, atomic, resumable, version-checked."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from repcam_core.storage.cache import MANIFEST, SCHEMA_VERSION, ArtifactCache
from repcam_core.errors import CacheVersionError
from repcam_core.storage.integrity import seal


def _write(text: str):
    def create(tmp: Path) -> None:
        (tmp / "value.txt").write_text(text)
    return create


def _read(path: Path) -> str:
    return (path / "value.txt").read_text()


def test_second_call_loads_without_recomputing(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def create(tmp: Path) -> None:
        calls.append(1)
        (tmp / "value.txt").write_text("x")

    assert cache.get_or_create("k", {"a": 1}, create, _read) == "x"
    assert cache.get_or_create("k", {"a": 1}, create, _read) == "x"
    assert calls == [1]
    assert cache.get_or_create("k", {"a": 2}, _write("y"), _read) == "y"


def test_manifest_records_configuration_and_versions(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.get_or_create("k", {"lr": 0.1, "name": "n"}, _write("x"), _read)
    man = cache.manifest("k", {"lr": 0.1, "name": "n"})
    assert man["key"] == {"lr": 0.1, "name": "n"} and man["schema"] == SCHEMA_VERSION
    assert {"torch", "numpy", "repcam", "created"} <= set(man)


def test_failure_leaves_no_entry_and_no_temp_dir(tmp_path):
    cache = ArtifactCache(tmp_path)

    def boom(tmp: Path) -> None:
        (tmp / "half.bin").write_bytes(b"123")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        cache.get_or_create("k", {"a": 1}, boom, _read)
    assert not cache.has("k", {"a": 1})
    assert list((tmp_path / "k").iterdir()) == []
    # and the next run computes it normally
    assert cache.get_or_create("k", {"a": 1}, _write("ok"), _read) == "ok"


def test_old_schema_entry_raises_clear_error_and_clean_removes_it(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.get_or_create("k", {"a": 1}, _write("x"), _read)
    man_path = cache.entry("k", {"a": 1}) / MANIFEST
    man = json.loads(man_path.read_text())
    man["schema"] = SCHEMA_VERSION - 1
    man_path.write_text(json.dumps(seal(man)))  # as another version would write it: a valid record
    with pytest.raises(CacheVersionError, match="older RepCAM"):
        cache.get_or_create("k", {"a": 1}, _write("x"), _read)
    assert cache.clear_stale() == 1
    assert cache.get_or_create("k", {"a": 1}, _write("new"), _read) == "new"


def _slow_create(root: str, out: str) -> None:
    cache = ArtifactCache(root)

    def create(tmp: Path) -> None:
        with open(out, "a") as fh:
            fh.write("computed\n")
        time.sleep(0.5)
        (tmp / "value.txt").write_text("v")

    cache.get_or_create("k", {"a": 1}, create, _read)


def test_concurrent_processes_compute_once(tmp_path):
    log = tmp_path / "log.txt"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_slow_create, args=(str(tmp_path / "c"), str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert log.read_text().count("computed") == 1


def test_atomically_written_files_get_the_permissions_open_would_give(tmp_path):
    """Results tables written atomically (``repcam run --out``) are readable as a plain ``open()``
    write would leave them under the umask (a bare ``mkstemp`` makes them owner-only)."""
    import os
    import stat

    from repcam_core.storage.cache import write_text_atomic

    for umask, mode in ((0o022, 0o644), (0o002, 0o664)):  # the umask of the moment, as open() applies it
        before = os.umask(umask)
        try:
            plain = tmp_path / f"plain-{umask:o}.txt"
            plain.write_text("x")
            atomic = tmp_path / f"atomic-{umask:o}.txt"
            write_text_atomic(atomic, "x")
        finally:
            os.umask(before)
        assert stat.S_IMODE(os.stat(plain).st_mode) == mode
        assert stat.S_IMODE(os.stat(atomic).st_mode) == mode
