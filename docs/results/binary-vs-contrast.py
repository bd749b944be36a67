"""Each binary-model fused mode against its training-free rival with the same comparison classes
(``X`` against ``Contrast-X``; ``All`` against ``Contrast-All+F``), paired by seed: mean ± sd over seeds of the per-seed difference
(points), per protocol, and in how many seeds the binary models are ahead.

usage: python docs/results/binary-vs-contrast.py results_seeds.json
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(path: str) -> None:
    data = json.load(open(path))
    P = data["protocols"]
    print("mode: binary minus Contrast- (points), mean ± sd over seeds [seeds ahead / seeds]")
    for proto in ("fixed", "calibrated", "auc"):
        cells = []
        for mode, entry in P[proto].items():
            rival = P[proto].get("Contrast-All+F" if mode == "All" else f"Contrast-{mode}")  # All: every
            # other class's binary model, fused; Contrast-All+F: every other class's contrast
            if mode.startswith(("Contrast-", "Ref-", "Top", "Baseline")) or rival is None:
                continue
            d = np.array(entry["per_seed"]) - np.array(rival["per_seed"])
            sd = d.std(ddof=1) if len(d) > 1 else 0.0
            cells.append((mode, d.mean(), sd, int((d > 0).sum()), len(d)))
        means = [c[1] for c in cells]
        print(f"{proto}: {min(means):+.2f} to {max(means):+.2f}; binary ahead on average in "
              f"{sum(m > 0 for m in means)} of {len(cells)}")
        for mode, mean, sd, ahead, n in cells:
            print(f"  {mode:<12} {mean:+6.2f} ± {sd:4.2f}  [{ahead}/{n}]")


if __name__ == "__main__":
    main(sys.argv[1])
