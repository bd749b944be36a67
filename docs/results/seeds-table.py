"""docs/results.md's table of a ``repcam run --seeds ... --json`` output: mean ± sd over the seeds under
each protocol, and the paired difference with the Baseline (mean ± sd of the per-seed
differences), as markdown.

usage: python docs/results/seeds-table.py results_seeds.json > table.md
"""

from __future__ import annotations

import json
import sys

from repcam_core.evaluation.percent import fmt
from repcam_core.evaluation.protocols import PROTOCOLS


def cell(entry: dict | None, signed: bool = False) -> str:
    return "—" if entry is None else f"{fmt(entry['mean'], signed)} ± {fmt(entry['sd'])}"


def main(path: str) -> None:
    data = json.load(open(path))
    P, V = data["protocols"], data["vs_baseline"]
    print("| mode | fixed 0.15 | calibrated | AUC | vs Baseline: fixed | calibrated | AUC |")
    print("|---|---|---|---|---|---|---|")
    for mode in P["fixed"]:
        row = [cell(P[p].get(mode)) for p in PROTOCOLS] + [cell(V[p].get(mode), True) for p in PROTOCOLS]
        print(f"| {mode} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
