"""What "+A" does to each fused mode: ``X+A+F`` minus ``X+F`` (and Baseline+A minus Baseline),
paired by seed, per protocol: the range of the mean differences over the modes, and each mode's
mean ± sd [seeds where +A is ahead / seeds].

usage: python docs/results/a-effect.py results_seeds.json
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(path: str) -> None:
    P = json.load(open(path))["protocols"]
    for proto in ("fixed", "calibrated", "auc"):
        rows = []
        for mode, entry in P[proto].items():
            plain = "Baseline" if mode == "Baseline+A" else mode.replace("+A+F", "+F") if "+A+F" in mode else None
            if plain is None or plain not in P[proto]:
                continue
            d = np.array(entry["per_seed"]) - np.array(P[proto][plain]["per_seed"])
            rows.append((mode, d.mean(), d.std(ddof=1) if len(d) > 1 else 0.0, int((d > 0).sum()), len(d)))
        fused = [r[1] for r in rows if r[0] != "Baseline+A"]
        print(f"{proto}: fused modes {min(fused):+.2f} to {max(fused):+.2f} (+A ahead on average in "
              f"{sum(m > 0 for m in fused)} of {len(fused)})")
        for mode, mean, sd, ahead, n in rows:
            print(f"  {mode:<20} {mean:+6.2f} ± {sd:4.2f}  [{ahead}/{n}]")


if __name__ == "__main__":
    main(sys.argv[1])
