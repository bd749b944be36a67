"""How far the shipped model's quality moves when only chance changes: the default configuration
trained from scratch at several seeds on this machine, each model's quality evaluated here
(:func:`repcam_core.running.prebuilt.build.quality`), beside the shipped model's, evaluated here too.

``python -m bench.prebuilt_spread [--seeds 0,1,2,3,4] [--out FILE.json]``. The same code and seed
train another model on another CPU type (float rounding); that difference is of the size of a
change of seed, which is what this measures. ``tests/test_prebuilt_default.py`` takes its
cross-CPU tolerance from the figures this printed (kept in ``docs/results/prebuilt-spread.json``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch

    from repcam_core.running import prebuilt
    from repcam_core.running.config import RunConfig
    from repcam_core.storage.machine import machine
    from repcam_core.running.pipeline import Pipeline
    from repcam_core.running.prebuilt.build import quality

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    shipped = prebuilt.Prebuilt()
    torch.set_num_threads(int(shipped.manifest["threads"]))
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="repcam-spread-") as tmp:
        installed = Pipeline(RunConfig(bootstrap=100), cache=Path(tmp) / "shipped", prebuilt=shipped)
        prebuilt.install(installed)
        rows["shipped (seed 0, as built)"] = quality(installed)
        for seed in seeds:
            t0 = time.perf_counter()
            p = Pipeline(RunConfig(bootstrap=100, seed=seed), cache=Path(tmp) / f"seed-{seed}", prebuilt=False)
            rows[f"seed {seed}, trained here"] = {**quality(p), "seconds": round(time.perf_counter() - t0, 1)}
            print(f"{'seed ' + str(seed):<10} {json.dumps(rows[f'seed {seed}, trained here'])}", flush=True)
    trained = [v for k, v in rows.items() if k.startswith("seed")]
    spread = {"val_accuracy": _sd([r["val_accuracy"] for r in trained])}
    for proto in trained[0]["baseline_miou"]:
        spread[f"baseline_miou.{proto}"] = _sd([r["baseline_miou"][proto] for r in trained])
    out = {"machine": machine(), "shipped_manifest_cpu": shipped.manifest.get("cpu"), "quality": rows,
           "sd_over_seeds": spread,
           "range_over_seeds": {"val_accuracy": _range([r["val_accuracy"] for r in trained]),
                                **{f"baseline_miou.{p}": _range([r["baseline_miou"][p] for r in trained])
                                   for p in trained[0]["baseline_miou"]}}}
    print(json.dumps(out, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


def _sd(xs: list[float]) -> float | None:
    from repcam_core.evaluation.percent import mean_sd

    return mean_sd([x / 100 for x in xs])[1]  # percent in, the project's one rounding rule


def _range(xs: list[float]) -> list[float]:
    return [round(min(xs), 2), round(max(xs), 2)]


if __name__ == "__main__":
    raise SystemExit(main())
