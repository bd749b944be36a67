"""``kill -9`` at seeded random moments of a ``repcam run``: the same command then ends with the
results of an uninterrupted run, and the cache verifies clean."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess

from faultkit import argv, run, start
from repcam_core.cache_verify import verify_cache
from repcam_testing import survived

KILLS = 6
SEED = 9


def test_uninterrupted_runs_in_fresh_caches_are_identical(reference, fault_config, tmp_path):
    """The premise of every comparison here: a cold run is bit-reproducible on this CPU."""
    again = run(argv(fault_config, tmp_path / "cache", tmp_path / "out"))
    reference.check(again, tmp_path / "cache")


def _kill_at(moment: float, args: list[str]) -> bool:
    """Start ``repcam ARGS`` and ``kill -9`` it ``moment`` seconds later; False if it ended first."""
    proc = start(args)
    try:
        proc.wait(timeout=moment)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return True


def test_kill_9_at_random_moments_then_the_same_command_gives_identical_results(reference, fault_config, tmp_path):
    rng = random.Random(SEED)
    # one moment in each of KILLS equal slices of the reference run's duration (past interpreter
    # start-up); a run that ends before its moment (a quieter machine) is run again, killed sooner
    moments = [reference.seconds * (0.1 + 0.85 * (i + rng.random()) / KILLS) for i in range(KILLS)]
    for i, moment in enumerate(moments):
        cache, out = tmp_path / f"cache{i}", tmp_path / f"out{i}"
        for attempt in range(4):
            shutil.rmtree(cache, ignore_errors=True)
            if _kill_at(moment * 0.6 ** attempt, argv(fault_config, cache, out)):
                break
        else:
            raise AssertionError(f"run {i} always ended before its kill moment ({moment:.1f} s and sooner)")
        after_kill = verify_cache(cache)
        assert after_kill.damaged == [], f"kill at {moment:.1f} s left damage: {after_kill.damaged}"
        rerun = run(argv(fault_config, cache, out))
        reference.check(rerun, cache)
        report = verify_cache(cache)
        assert report.damaged == [] and report.leftovers == [], (report.damaged, report.leftovers)
        survived("kills survived (kill -9, rerun identical, verify clean)")
