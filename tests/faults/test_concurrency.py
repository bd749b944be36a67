"""Two ``repcam run`` processes started together on one cache train every model once and print
the same results as one run alone."""

from __future__ import annotations

import time

from faultkit import argv, finish, start
from repcam_core.running.verify import verify_cache
from repcam_testing import survived


def test_two_runs_at_once_train_each_model_once_and_agree(reference, fault_config, tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "fits.log"
    started = time.monotonic()
    procs = [start(argv(fault_config, cache, tmp_path / f"out{i}"), ["--count-fits", str(log)]) for i in range(2)]
    runs = [finish(p, started) for p in procs]
    for r in runs:
        reference.check(r, cache)
    models = sorted(p.parent.name for kind in ("multiclass", "binary")
                    for p in cache.glob(f"{kind}/*/model.safetensors"))
    trainings = log.read_text().splitlines()
    assert len(trainings) == len(models) == len(reference.models), (trainings, models)
    assert verify_cache(cache).damaged == []
    survived("concurrent runs on one cache (each model trained once)", 2)
