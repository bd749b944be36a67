"""What the evaluation protocols cost (the evaluation issue's targets).

* **warm**: a warm ``repcam run`` (everything cached) reads per-image counts instead of one IoU
  curve per mode, loads every mode's cached protocol values and summarises them (intervals,
  paired comparisons). Measured: the whole warm command (subprocess, median of the runs), and,
  in-process on the same cache, the time of those added steps — loading the counts beyond what
  reading the old one-curve-per-mode JSON costs (timed on files of that format written here),
  the protocols and the tables' extra text. Figure: warm time / (warm time - added), target <= 1.20.
* **cold**: the same cold ``repcam run`` in two fresh caches, with the calibration split and
  with ``--calibration-split none``; figure: with / without, target <= 1.25.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Report, Settings

TINY_WORLD = {"n_families": 3, "classes_per_family": 2, "train_per_class": 8, "val_per_class": 4,
              "calib_per_class": 4, "width": 40, "height": 32}
TINY = ["--image-size", "32", "--epochs", "3", "--binary-epochs", "2", "--batch-size", "16", "--clusters", "3",
        "--min-cluster-size", "2"]


def _cli(args: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "repcam_core.cli", "run", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return time.perf_counter() - t0


def _added_warm_seconds(cache: str, config_args: dict, modes: str, repeats: int) -> dict[str, float]:
    """In-process, on the warm cache: the steps the protocols add to a warm run."""
    from repcam_core.config import RunConfig
    from repcam_core.experiment import Experiment
    from repcam_core.method.modes import parse_mode, parse_modes
    from repcam_core.pipeline import Pipeline

    exp = Experiment(Pipeline(RunConfig.from_dict(config_args), cache=cache))
    parsed = parse_modes(modes)
    t = {"counts": [], "old_json": [], "protocols": [], "text": []}
    with tempfile.TemporaryDirectory() as tmp:
        old_files = []
        for m in parsed:  # the earlier format: one JSON with the [C, 19] IoU curve per mode
            r = exp.evaluate_mode(m)
            path = Path(tmp) / f"{len(old_files)}.json"
            path.write_text(json.dumps({"mode": m.name, "thresholds": [0.05 * k for k in range(1, 20)],
                                        "iou": r.iou[:, ::10][:, :19].tolist(), "comparisons": {}}))
            old_files.append(path)
        for _ in range(repeats):
            t0 = time.perf_counter()
            results = {m.name: exp.evaluate_mode(m) for m in parsed}
            t["counts"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for path in old_files:
                json.loads(path.read_text())
            t["old_json"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            base = results.get("Baseline") or exp.evaluate_mode(parse_mode("Baseline"))
            summary = exp.protocols(results, base)
            t["protocols"].append(time.perf_counter() - t0)
            from repcam_core.results import Results

            res = Results(exp.p.class_names, exp.p.config.threshold, results, exp.p.config.to_dict(), summary,
                          exp.calibration_info())
            t0 = time.perf_counter()
            res.text(), json.dumps(res.to_json())
            t["text"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in t.items()}


def run(settings: Settings) -> Report:
    rep = Report("protocols")
    modes = "Baseline,S-1+F,S-1+A+F,Contrast-S-1+A+F" if settings.smoke else "paper"
    world = TINY_WORLD if settings.smoke else {}
    extra = TINY if settings.smoke else []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        base = ["--modes", modes, "--quiet", "--json", "--device", "cpu", "--out", str(Path(a) / "out"), *extra]
        world_args = ["--dataset", "embedded"]
        if world:
            from repcam_core.data.world import WorldConfig, generate_world

            generate_world(Path(a) / "world", WorldConfig(**world))
            world_args = ["--dataset", str(Path(a) / "world")]
        cold_cal = _cli([*base, *world_args, "--cache", str(Path(a) / "cache")])
        cold_none = _cli([*base, *world_args, "--cache", str(Path(b) / "cache"), "--calibration-split", "none"])
        warm = statistics.median(_cli([*base, *world_args, "--cache", str(Path(a) / "cache")])
                                 for _ in range(max(1, settings.repeats)))
        from repcam_core.cli import build_config, make_parser

        ns = make_parser().parse_args(["run", *base, *world_args])
        added = _added_warm_seconds(str(Path(a) / "cache"), build_config(ns).to_dict(), modes,
                                    max(1, settings.repeats))
    extra_s = max(0.0, added["counts"] - added["old_json"]) + added["protocols"] + added["text"]
    warm_ratio = warm / max(1e-9, warm - extra_s)
    cold_ratio = cold_cal / cold_none
    rep.table("Evaluation protocols: cost (" + ("tiny world" if settings.smoke else "embedded default") +
              f", modes {modes})", ["figure", "seconds / ratio", "target"], [
        ["warm repcam run (whole command)", warm, ""],
        ["  added: counts beyond the old JSON", max(0.0, added["counts"] - added["old_json"]), ""],
        ["  added: protocols + paired comparisons", added["protocols"], ""],
        ["  added: protocol tables (text + JSON)", added["text"], ""],
        ["warm with protocols / without", warm_ratio, "<= 1.20"],
        ["cold with calibration split", cold_cal, ""],
        ["cold without (--calibration-split none)", cold_none, ""],
        ["cold with / without", cold_ratio, "<= 1.25"],
    ])
    rep.figures.update({"protocols_warm_ratio": warm_ratio, "protocols_cold_ratio": cold_ratio,
                        "protocols_warm_s": warm, "protocols_cold_s": cold_cal})
    return rep
