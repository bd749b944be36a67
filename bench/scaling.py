"""6. Scaling: time and peak memory of a whole run (the Python API behind ``repcam run``, in a
fresh subprocess each, its own empty cache) as images and classes grow.

* images 1x, 2x, 4x per class at 12 classes, mode S-1+A+F: expect time ~linear, peak memory
  nearly flat (maps are streamed to the cache per class pair, not held);
* classes 12, 24, 48 at 1x, mode S-1+A+F: expect ~linear (N comparison models per class);
* classes for the pairwise table (mode All, every pair trained): expect ~quadratic.

Time excludes generating the world (done first in the same subprocess); peak memory is the
subprocess's ``VmHWM`` (whole process, including torch itself; ``ru_maxrss`` would carry over the
parent's size through fork + exec).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Report, Settings

CHILD = r"""
import json, resource, sys, time
from repcam_core.running.config import RunConfig, TrainConfig
from repcam_core.running.experiment import Experiment
from repcam_core.running.pipeline import Pipeline
world, mode, cache = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = RunConfig(world=world, image_size=32, n_clusters=4, min_cluster_size=2, n_random=2, device="cpu",
                train=TrainConfig(epochs=2, binary_max_epochs=1, batch_size=32))
p = Pipeline(cfg, cache=cache)
t0 = time.perf_counter(); p.train_split; p.eval_split; data_s = time.perf_counter() - t0
t0 = time.perf_counter(); res = Experiment(p).run([mode]); run_s = time.perf_counter() - t0
def peak_mb():
    # VmHWM: this process image's peak RSS. ru_maxrss is not usable here: on Linux it survives
    # exec, so a child forked from a large parent reports the parent's size.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"data_s": data_s, "run_s": run_s, "peak_mb": peak_mb(),
                  "train_images": len(p.train_split), "classes": p.num_classes}))
"""


def _one(world: dict, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(world), mode, cache], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _world(classes: int, per_class: int) -> dict:
    return {"n_families": classes // 4, "classes_per_family": 4, "train_per_class": per_class,
            "val_per_class": max(2, per_class // 3), "width": 48, "height": 40}


def run(settings: Settings) -> Report:
    rep = Report("scaling")
    base = 4 if settings.smoke else 10
    if settings.smoke:  # one tiny run: exercises the subprocess path, measures nothing useful
        plans = {"images": [("1x", _world(8, base), "S-1+A+F")]}
    else:
        plans = {
        "images": [(f"{f}x", _world(12, base * f), "S-1+A+F") for f in (1, 2, 4)],
        "classes": [(f"{c}", _world(c, base), "S-1+A+F") for c in (12, 24, 48)],
        "pairwise": [(f"{c}", _world(c, base), "All") for c in (8, 12, 16)],
        }
    figures, rows = {}, []
    for axis, plan in plans.items():
        results = []
        for label, world, mode in plan:
            r = _one(world, mode)
            results.append(r)
            first = results[0]
            size_ratio = (r["train_images"] / first["train_images"]) if axis == "images" else r["classes"] / first["classes"]
            rows.append([axis, label, mode, r["classes"], r["train_images"], r["run_s"], r["run_s"] / first["run_s"],
                         size_ratio, r["peak_mb"]])
        figures[f"scaling_{axis}"] = {lab: {"run_s": r["run_s"], "peak_mb": r["peak_mb"]}
                                      for (lab, _, _), r in zip(plan, results)}
        if len(results) > 1:
            x = [(r["train_images"] if axis == "images" else r["classes"]) for r in results]
            import math
            # exponent of time ~ size^k from the first to the last point
            figures[f"scaling_{axis}_exponent"] = math.log(results[-1]["run_s"] / results[0]["run_s"]) / math.log(x[-1] / x[0])
            figures[f"scaling_{axis}_peak_ratio"] = results[-1]["peak_mb"] / results[0]["peak_mb"]
    rep.table("Scaling of a whole run (tinynet, 32 px, 2 + 1 epochs, CPU, fresh subprocess and cache each)",
              ["axis", "point", "mode", "classes", "train images", "run s", "time x", "size x", "peak MB"], rows)
    rep.notes.append("exponent k in time ~ size^k, first to last point: "
                     + ", ".join(f"{a}: {figures.get(f'scaling_{a}_exponent', float('nan')):.2f}" for a in plans)
                     + " (expected ~1 for images and S-k classes, ~2 for pairwise)")
    rep.figures = figures
    return rep
