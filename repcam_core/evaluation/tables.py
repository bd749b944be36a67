"""Tables in the paper's layout (CSV text)."""

from __future__ import annotations

import csv
import io
from typing import Sequence

import numpy as np

from repcam_core.evaluation.results import Results
from repcam_core.evaluation.percent import fraction_fmt


def pairwise_table_csv(class_names: Sequence[str], pairwise: np.ndarray, results: Results) -> str:
    """Table 1: rows = target class, columns = comparison class (IoU of the binary model alone),
    then rows Top1..Top4, All, Grad-CAM (the Baseline) and the reference maps (when evaluated) with
    their per-class IoU and average."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["class", *class_names, "avg"])
    for i, name in enumerate(class_names):
        w.writerow([name, *["" if j == i else fraction_fmt(pairwise[i, j]) for j in range(len(class_names))], ""])
    for mode, label in [("Top1", "Top1"), ("Top2", "Top2"), ("Top3", "Top3"), ("Top4", "Top4"),
                        ("All", "All"), ("Baseline", "Grad-CAM"), ("Ref-Whole", "Ref-Whole"),
                        ("Ref-Centre", "Ref-Centre")]:
        if mode in results.modes:
            r = results.modes[mode]
            w.writerow([label, *[fraction_fmt(v) for v in r.per_class], fraction_fmt(r.miou)])
    return buf.getvalue()
