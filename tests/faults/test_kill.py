"""``kill -9`` of a ``repcam run`` in the middle of a file write: the same command then ends with
the results of an uninterrupted run, and the cache verifies clean.

A kill only tests the atomic writes if a write was in progress when it landed: a kill at a random
moment mostly lands between writes (files are open for writing about 1 % of a cold tiny run) or,
early on, before the first one. So the harness notes every file opened for writing under the
cache, and kills the run itself (SIGKILL, as ``kill -9``) halfway through a chosen one, after
noting it. One kill per kind of item the run writes (world images, decoded splits, models, B,
clustering, maps, results, protocol values), each at a seeded random write of that kind; a kill
counts as survived only when the notes show it interrupted that write, and after every check.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

from faultkit import argv, note_writes, run, start
from repcam_core.running.verify import verify_cache
from repcam_core.storage.integrity import TMP_MARK
from repcam_testing import survived

SEED = 9
KINDS = ("datasets", "decoded", "multiclass", "similarity", "clustering", "binary", "maps", "results", "protocols")
AT_LEAST = 4


def test_uninterrupted_runs_in_fresh_caches_are_identical(reference, fault_config, tmp_path):
    """The premise of every comparison here: a cold run is bit-reproducible on this CPU."""
    again = run(argv(fault_config, tmp_path / "cache", tmp_path / "out"))
    reference.check(again, tmp_path / "cache")


def _kind(path: Path, cache: Path) -> str:
    return path.relative_to(cache).parts[0]


def test_kill_9_in_the_middle_of_a_write_then_the_same_command_gives_identical_results(
        reference, fault_config, tmp_path):
    rng = random.Random(SEED)
    writes: dict[str, list[int]] = {}  # kind -> the numbers (1-based) of the reference run's writes of it
    for n, path in enumerate(reference.writes, 1):
        writes.setdefault(_kind(path, reference.cache), []).append(n)
    assert set(KINDS) <= set(writes), f"a kind of item was never written: {sorted(writes)}"
    interrupted = 0
    for i, kind in enumerate(KINDS):
        n = rng.choice(writes[kind])
        cache, out, log = tmp_path / f"cache{i}", tmp_path / f"out{i}", tmp_path / f"writes{i}.log"
        proc = start(argv(fault_config, cache, out), note_writes(log, cache, kill_in=n))
        proc.communicate(timeout=600)
        assert proc.returncode == -signal.SIGKILL, f"write {n} ({kind}) was never reached: rc {proc.returncode}"
        notes = log.read_text().splitlines()
        what, path, written = notes[-1].split(" ")
        killed = Path(path)
        # the kill landed inside the write: opened, half written, never closed
        assert what == "kill" and f"open {killed}" in notes and f"close {killed}" not in notes, notes[-3:]
        assert _kind(killed, cache) == kind and TMP_MARK in killed.relative_to(cache).as_posix()
        assert killed.is_file() and killed.stat().st_size >= int(written)
        after_kill = verify_cache(cache)
        assert after_kill.damaged == [], f"a kill in {killed} left damage: {after_kill.damaged}"
        assert any(killed.relative_to(cache).as_posix().startswith(f.item) for f in after_kill.leftovers), \
            f"the interrupted write {killed} is not reported as a leftover: {after_kill.leftovers}"
        rerun = run(argv(fault_config, cache, out))
        reference.check(rerun, cache)
        report = verify_cache(cache)
        assert report.damaged == [] and report.leftovers == [], (report.damaged, report.leftovers)
        interrupted += 1
        survived("kills in the middle of a write survived (rerun identical, verify clean)")
    assert interrupted >= AT_LEAST
