"""Tables in the paper's layout (CSV text)."""

from __future__ import annotations

import csv
import io
from typing import Sequence

import numpy as np

from repcam_core.experiment import Results


def pairwise_table_csv(class_names: Sequence[str], pairwise: np.ndarray, results: Results) -> str:
    """Table 1: rows = target class, columns = comparison class (IoU of the binary model alone),
    then rows Top1..Top4, All, Grad-CAM (the Baseline) and the reference maps (when evaluated) with
    their per-class IoU and average."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["class", *class_names, "avg"])
    for i, name in enumerate(class_names):
        w.writerow([name, *["" if j == i or not np.isfinite(pairwise[i, j]) else f"{pairwise[i, j]:.4f}"
                            for j in range(len(class_names))], ""])
    for mode, label in [("Top1", "Top1"), ("Top2", "Top2"), ("Top3", "Top3"), ("Top4", "Top4"),
                        ("All", "All"), ("Baseline", "Grad-CAM"), ("Ref-Whole", "Ref-Whole"),
                        ("Ref-Centre", "Ref-Centre")]:
        if mode in results.modes:
            r = results.modes[mode]
            w.writerow([label, *[f"{v:.4f}" for v in r.per_class], f"{r.miou:.4f}"])
    return buf.getvalue()
