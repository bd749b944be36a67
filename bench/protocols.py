"""What the evaluation protocols cost (the evaluation issue's targets).

* **warm**: a warm ``repcam run`` (everything cached) reads per-image counts instead of one IoU
  curve per mode, the calibration split's fingerprint, every mode's cached protocol values, and
  summarises them (intervals, paired comparisons). Measured: the whole warm command (subprocess),
  and, in-process on the same cache with new objects each time, the steps that adds: the
  calibration fingerprint; loading the counts beyond what loading the old one-curve-per-mode
  result costs (items of that format written here into the same cache from the same inputs, so
  both pay the cache's manifest and integrity checks; also printed: against a bare ``json.loads``
  of the old file, which charges those checks to the protocols); the protocols; the tables' extra
  text. Each the fastest of 5 runs (timing noise only adds). Figure: warm / (warm - added),
  target <= 1.20.
* **cold**: the same cold ``repcam run`` in two fresh caches, with the calibration split and
  with ``--calibration-split none``; figure: with / without, target <= 1.25.

``BENCH_WARM_CACHE=DIR`` measures the warm part alone on a cache that already holds the modes.
"""

from __future__ import annotations

import json
import os
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


def _old_item(cache, tmp: Path, text: str, inputs: list[str]) -> None:
    """Write an old-format result that records ``inputs`` (cache-relative entries) as read."""
    for rel in inputs:
        man = json.loads((cache.root / rel / "manifest.json").read_text())
        if cache.entry(man["kind"], man["key"]) == cache.root / rel:
            cache.note_use(man["kind"], man["key"])
    (tmp / "result.json").write_text(text)


def _added_warm_seconds(cache: str, config_args: dict, modes: str, repeats: int) -> dict[str, float]:
    """In-process, on the warm cache: the steps the protocols add to a warm run. Each repetition
    starts from new objects, as a warm command does (nothing vouched for, no fingerprint known)."""
    from repcam_core.storage.cache import ArtifactCache
    from repcam_core.running.config import RunConfig
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode, parse_modes
    from repcam_core.running.pipeline import Pipeline
    from repcam_core.evaluation.results import Results

    config = RunConfig.from_dict(config_args)
    parsed = parse_modes(modes)
    t = {"calib_fingerprint": [], "counts": [], "old_json": [], "old_cached": [], "protocols": [], "text": []}
    with tempfile.TemporaryDirectory() as tmp:
        exp = Experiment(Pipeline(config, cache=cache))
        old_files, old_keys = [], []
        for m in parsed:  # the earlier format: one JSON with the [C, 19] IoU curve per mode
            r = exp.evaluate_mode(m)
            old = json.dumps({"mode": m.name, "thresholds": [0.05 * k for k in range(1, 20)],
                              "iou": r.iou[:, ::10][:, :19].tolist(), "comparisons": {}})
            path = Path(tmp) / f"{len(old_files)}.json"
            path.write_text(old)
            old_files.append(path)
            # ... and as the earlier version stored it: a cache item (manifest, file records, checks)
            # computed from the same maps and models (so it vouches for the same inputs)
            key = {"bench": "old-format result from its inputs", **exp.mode_key(m)}
            inputs = exp.p.cache.manifest("results", exp.mode_key(m)).get("inputs") or []
            exp.p.cache.get_or_create("bench-old-results", key, lambda d, o=old, i=inputs: _old_item(exp.p.cache, d, o, i),
                                      lambda d: json.loads((d / "result.json").read_text()))
            old_keys.append(key)
        for _ in range(repeats):
            exp = Experiment(Pipeline(config, cache=cache))
            exp.p.data_key  # the training and evaluation fingerprints: every warm run needed them
            t0 = time.perf_counter()
            if exp.p.calibration_split_name is not None:
                exp.p.split_fingerprint("calib")  # the calibration split's: only the protocols need it
            t["calib_fingerprint"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            results = {m.name: exp.evaluate_mode(m) for m in parsed}
            t["counts"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for path in old_files:
                json.loads(path.read_text())
            t["old_json"].append(time.perf_counter() - t0)
            old_cache = ArtifactCache(cache)
            t0 = time.perf_counter()
            for key in old_keys:
                old_cache.get_or_create("bench-old-results", key, lambda d: None,
                                        lambda d: json.loads((d / "result.json").read_text()))
            t["old_cached"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            base = results.get("Baseline") or exp.evaluate_mode(parse_mode("Baseline"))
            summary = exp.protocols(results, base)
            t["protocols"].append(time.perf_counter() - t0)
            res = Results(exp.p.class_names, exp.p.config.threshold, results, exp.p.config.to_dict(), summary,
                          exp.calibration_info())
            t0 = time.perf_counter()
            res.text(), json.dumps(res.to_json())
            t["text"].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in t.items()}


def run(settings: Settings) -> Report:
    rep = Report("protocols")
    modes = "Baseline,S-1+F,S-1+A+F,Contrast-S-1+A+F" if settings.smoke else "paper"
    world = TINY_WORLD if settings.smoke else {}
    extra = TINY if settings.smoke else []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        base = ["--modes", modes, "--quiet", "--json", "--device", "cpu", "--out", str(Path(a) / "out"), *extra]
        world_args = ["--dataset", "embedded"]
        if world:
            from repcam_core.data.world import WorldConfig
            from repcam_core.data.world_files import generate_world

            generate_world(Path(a) / "world", WorldConfig(**world))
            world_args = ["--dataset", str(Path(a) / "world")]
        warm_cache = os.environ.get("BENCH_WARM_CACHE")  # a cache that already holds these modes: warm part only
        cache = warm_cache or str(Path(a) / "cache")
        cold_cal = cold_none = float("nan")
        if not warm_cache:
            cold_cal = _cli([*base, *world_args, "--cache", cache])
            cold_none = _cli([*base, *world_args, "--cache", str(Path(b) / "cache"), "--calibration-split", "none"])
        # the fastest of several runs, for the command and for each step: timing noise only adds
        warm = min(_cli([*base, *world_args, "--cache", cache]) for _ in range(settings.repeats))
        from repcam_core.cli import build_config, make_parser

        ns = make_parser().parse_args(["run", *base, *world_args])
        added = _added_warm_seconds(cache, build_config(ns).to_dict(), modes, settings.repeats)
    counts_s = max(0.0, added["counts"] - added["old_cached"])  # like for like: both through the cache
    bare_s = max(0.0, added["counts"] - added["old_json"])  # and against a bare json.loads (no cache checks)
    rest = added["calib_fingerprint"] + added["protocols"] + added["text"]
    warm_ratio = warm / max(1e-9, warm - counts_s - rest)
    bare_ratio = warm / max(1e-9, warm - bare_s - rest)
    cold_ratio = cold_cal / cold_none
    rep.table("Evaluation protocols: cost (" + ("tiny world" if settings.smoke else "embedded default") +
              f", modes {modes})", ["figure", "seconds / ratio", "target"], [
        ["warm repcam run (whole command)", warm, ""],
        ["  added: the calibration split's fingerprint", added["calib_fingerprint"], ""],
        ["  added: counts, beyond the old one-curve result item", counts_s, ""],
        ["  added: protocols + paired comparisons", added["protocols"], ""],
        ["  added: protocol tables (text + JSON)", added["text"], ""],
        ["warm with protocols / without", warm_ratio, "<= 1.20"],
        ["  counting the counts' whole load against a bare json.loads", bare_ratio, ""],
        ["cold with calibration split", cold_cal, ""],
        ["cold without (--calibration-split none)", cold_none, ""],
        ["cold with / without", cold_ratio, "<= 1.25"],
    ])
    rep.notes.append("the old format is timed both as the earlier version stored it (a cache item: manifest, "
                     "file records, integrity checks) and as a bare JSON file; the first is the target figure")
    rep.figures.update({"protocols_warm_ratio": warm_ratio, "protocols_warm_ratio_bare": bare_ratio,
                        "protocols_cold_ratio": cold_ratio,
                        "protocols_warm_s": warm, "protocols_cold_s": cold_cal})
    return rep
