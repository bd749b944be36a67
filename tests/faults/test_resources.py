"""A cache that cannot be written (read-only directory, full disk): one ``repcam: error:`` line,
exit status 2, the cache left as it was, and a later run resumes to the reference's results.

Read-only: ``chmod -R a-w`` on the cache. The tests run as root on CI, for whom permission bits
do not stop writes; there the run is started without the two capabilities that let root ignore
them (CAP_DAC_OVERRIDE, CAP_FOWNER: dropped from the bounding set before exec), so it meets the
directory as any user would. (Running as ``nobody`` was tried first: on this machine the
interpreter lives under /root, which ``nobody`` cannot reach.) Full disk: ``harness.py
--disk-bytes N`` makes every write under the cache fail with ENOSPC once N bytes have been
written, at three points of the run (world images, models, the last artifacts).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
from pathlib import Path

import pytest

from faultkit import argv, run
from repcam_core.running.verify import verify_cache
from repcam_testing import survived

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_FOWNER = 24, 1, 3


def snapshot(cache: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(cache).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in cache.rglob("*") if p.is_file()}


def _set_writable(tree: Path, writable: bool) -> None:
    bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for p in [tree, *tree.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod((mode | stat.S_IWUSR) if writable else (mode & ~bits))


def _without_root_overrides() -> None:
    """preexec_fn: the child keeps uid 0 but obeys permission bits like any user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_read_only_cache_gives_one_line_leaves_it_intact_and_a_later_run_resumes(reference, fault_config, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    shutil.copytree(reference.cache, cache)
    shutil.rmtree(cache / "results")  # models, maps and B are there; the results must be written
    before = snapshot(cache)
    _set_writable(cache, False)
    try:
        refused = run(argv(fault_config, cache, out), preexec_fn=_without_root_overrides if os.geteuid() == 0 else None)
    finally:
        _set_writable(cache, True)
    assert refused.rc == 2, refused.err
    (line,) = refused.errors()
    assert "cannot be written" in line and str(cache) in line and "run the same command again" in line
    assert snapshot(cache) == before
    assert verify_cache(cache).damaged == []
    reference.check(run(argv(fault_config, cache, out)), cache)
    survived("storage refusals survived (one line, cache intact, resumed)")


@pytest.mark.parametrize("share", [0.002, 0.3, 0.97])
def test_full_disk_gives_one_line_leaves_the_cache_intact_and_a_later_run_resumes(
        share, reference, fault_config, tmp_path):
    total = sum(p.stat().st_size for p in reference.cache.rglob("*") if p.is_file() and ".quarantine" not in p.parts)
    cache = tmp_path / "cache"
    full = run(argv(fault_config, cache, tmp_path / "out"),
               ["--disk-bytes", str(int(share * total)), "--disk-root", str(cache)])
    assert full.rc == 2, full.err
    (line,) = full.errors()
    assert f"the cache {cache} is full" in line and "No space left on device" in line
    report = verify_cache(cache)
    assert report.damaged == [] and report.leftovers == [], (report.damaged, report.leftovers)
    reference.check(run(argv(fault_config, cache, tmp_path / "out")), cache)
    survived("storage refusals survived (one line, cache intact, resumed)")
