"""Every mode of a real-photo run against the two reference maps, paired, seed by seed.

usage: python docs/results/photos-vs-reference.py CACHE RESULTS.json [RESULTS.json ...] > OUT.txt

Each RESULTS.json is one seed's ``repcam run --json`` output (``results.json``); its ``config`` is
rebuilt and run again on CACHE, which already holds everything (nothing is trained). Within a seed
every mode shares the bootstrap resamples of the evaluation images, so ``mode - Ref-Whole`` and
``mode - Ref-Centre`` are paired differences with a 95 % interval; over the seeds, the mean and sd
of the difference and how many seeds' intervals lie wholly above (">") or below ("<") zero.
The last line is the same as JSON.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from repcam_core.config import RunConfig
from repcam_core.experiment import Experiment
from repcam_core.pipeline import Pipeline
from repcam_core.protocols import PROTOCOLS

REFS = ("Ref-Whole", "Ref-Centre")


def main(cache: str, files: list[str]) -> None:
    per_seed: dict[str, dict] = {}  # mode -> ref -> protocol -> list of (diff, lo, hi)
    for path in files:
        data = json.load(open(path))
        cfg = RunConfig.from_dict(data["config"])
        exp = Experiment(Pipeline(cfg, cache=cache))
        modes = list(data["miou"])
        res = exp.run(modes)
        values = {m: exp.protocol_values(res.modes[m]) for m in modes}
        for m in modes:
            for ref in REFS:
                for k, proto in enumerate(PROTOCOLS):
                    d = values[m].resampled[:, k] - values[ref].resampled[:, k]
                    lo, hi = np.percentile(d, [2.5, 97.5])
                    point = values[m].point[k] - values[ref].point[k]
                    per_seed.setdefault(m, {}).setdefault(ref, {}).setdefault(proto, []).append(
                        (100 * float(point), 100 * float(lo), 100 * float(hi)))
    summary: dict = {}
    width = max(len(m) for m in per_seed)
    print(f"paired differences, mode minus reference (points of mIoU %), {len(files)} seed(s): "
          "mean ± sd over seeds, [min, max], seeds whose 95 % interval is above/below 0")
    for ref in REFS:
        print(f"\nminus {ref}:")
        print(f"  {'mode':<{width}}  " + "  ".join(f"{p:<34}" for p in PROTOCOLS))
        for m in per_seed:
            if m in REFS:
                continue
            cells = []
            for proto in PROTOCOLS:
                rows = np.array(per_seed[m][ref][proto])
                mean, sd = rows[:, 0].mean(), rows[:, 0].std(ddof=1) if len(rows) > 1 else 0.0
                above, below = int((rows[:, 1] > 0).sum()), int((rows[:, 2] < 0).sum())
                summary.setdefault(ref, {}).setdefault(m, {})[proto] = {
                    "mean": round(float(mean), 2), "sd": round(float(sd), 2),
                    "per_seed": [[round(x, 2) for x in r] for r in rows.tolist()],
                    "seeds_above": above, "seeds_below": below}
                cells.append(f"{mean:+6.2f} ± {sd:4.2f} [{rows[:, 0].min():+6.2f}, {rows[:, 0].max():+6.2f}] "
                             f">{above} <{below}")
            print(f"  {m:<{width}}  " + "  ".join(f"{c:<34}" for c in cells))
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
