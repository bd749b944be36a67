"""Results of an experiment: per-mode IoU curves and counts, the three protocols, and the
tables written by the CLI (JSON, CSV, plain text) and read by the app.

Every figure is in percent in the JSON and text outputs (fractions in the objects), rounded once
by :mod:`repcam_core.evaluation.percent`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np

from repcam_core.storage.machine import merge as merge_machines
from repcam_core.evaluation.percent import fmt, mean_sd, pct, pct_fmt
from repcam_core.evaluation.protocols import PROTOCOLS, ImageCounts, ProtocolValues, aggregate_protocols, mean_over_classes


@dataclass
class ModeResult:
    """One mode on the evaluation split: the per-image counts (``counts`` on the evaluation split,
    ``calib_counts`` on the calibration split or None) and the comparison classes used. The IoU
    curve per class [C, T] over ``thresholds`` (:attr:`iou`), its values at the configured
    threshold (:attr:`per_class`) and their mean (:attr:`miou`) are computed from ``counts``, never
    passed in beside them."""

    mode: str
    thresholds: list[float]
    threshold_index: int
    counts: ImageCounts
    comparisons: dict[int, list[int]] = field(default_factory=dict)
    calib_counts: ImageCounts | None = None
    images: dict[str, int] = field(default_factory=dict)  # role -> images in that split
    skipped: list[str] = field(default_factory=list)  # unreadable files left out of the splits
    auc_counts: ImageCounts | None = None  # the AUC protocol's counts when not ``counts`` (Ref-Centre)
    widths: dict[str, float] | None = None  # Ref-Centre: protocol -> the width chosen on the calibration split
    computed_on: list[dict[str, Any]] = field(default_factory=list)  # repcam_core.storage.machine records

    @cached_property
    def iou(self) -> np.ndarray:
        """``[C, T]`` IoU per class and threshold from ``counts`` (NaN: a class not evaluated),
        computed once (a result is made from complete counts; a page reads it on every rerun)."""
        return self.counts.class_iou()

    @property
    def per_class(self) -> np.ndarray:
        return self.iou[:, self.threshold_index]

    @property
    def miou(self) -> float:
        """The mean over evaluated classes at the configured threshold: the same computation as
        the fixed protocol's point value (:func:`repcam_core.evaluation.protocols.mean_over_classes`)."""
        return float(mean_over_classes(self.iou)[self.threshold_index])


@dataclass
class Results:
    """The ablation table of one configuration: modes x classes, and every protocol.

    ``protocols`` is :func:`repcam_core.evaluation.protocols.summarise`'s output (``{"protocols": ...,
    "vs_baseline": ...}``), ``calibration`` says which images calibrated the thresholds and
    ``values`` holds every mode's unrounded protocol values (what means over seeds start from).
    ``adapted``: mode -> how its settings were adapted to this dataset; ``not_run``: mode -> why a
    mode of the requested group was left out (:mod:`repcam_core.method.feasibility`)."""

    class_names: tuple[str, ...]
    threshold: float
    modes: dict[str, ModeResult]
    config: dict[str, Any]
    protocols: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    values: dict[str, ProtocolValues] = field(default_factory=dict, repr=False)
    adapted: dict[str, str] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)

    @property
    def skipped(self) -> list[str]:
        """Unreadable image or mask files the splits left out (as the results recorded them)."""
        return sorted({f for r in self.modes.values() for f in r.skipped})

    @property
    def computed_on(self) -> list[dict[str, Any]]:
        """The distinct machine records (CPU, torch build, threads) behind every figure here."""
        return merge_machines(m for r in self.modes.values() for m in r.computed_on)

    def to_json(self) -> dict[str, Any]:
        out = {
            "threshold": self.threshold,
            "classes": list(self.class_names),
            "miou": {m: pct(r.miou) for m, r in self.modes.items()},
            "per_class": {m: {n: pct(v) for n, v in zip(self.class_names, r.per_class)}
                          for m, r in self.modes.items()},
            "comparisons": {m: {self.class_names[c]: [self.class_names[j] for j in js]
                                for c, js in r.comparisons.items()} for m, r in self.modes.items()},
            "config": self.config,
            "adapted": dict(self.adapted),
            "not_run": dict(self.not_run),
            "computed_on": self.computed_on,
        }
        if self.protocols:
            out["protocols"] = {p: {m: v for m, v in self.protocols["protocols"][p].items() if m in self.modes}
                                for p in PROTOCOLS}
            out["vs_baseline"] = {p: {m: v for m, v in self.protocols["vs_baseline"][p].items() if m in self.modes}
                                  for p in PROTOCOLS}
            out["calibration"] = self.calibration
        return out

    def to_csv(self) -> str:
        """Rows = modes, columns = classes then mIoU (fixed threshold), then each protocol and its
        95 % interval; values in percent."""
        buf = io.StringIO()
        w = csv.writer(buf)
        extra = [f"{p}{s}" for p in PROTOCOLS for s in ("", "_lo", "_hi")] if self.protocols else []
        w.writerow(["mode", *self.class_names, "mIoU", *extra])
        for m, r in self.modes.items():
            row = [m, *[pct_fmt(v) for v in r.per_class], pct_fmt(r.miou)]
            if self.protocols:
                for p in PROTOCOLS:
                    e = self.protocols["protocols"][p].get(m, {})
                    lo, hi = e.get("ci", [None, None])
                    row += [fmt(e.get("miou")), fmt(lo), fmt(hi)]
            w.writerow(row)
        return buf.getvalue()

    def notes(self, not_run: bool = True) -> list[str]:
        """One line per adapted mode, per reference width and (``not_run``) per mode left out."""
        lines = [f"note: {m} adapted to this dataset: {n}" for m, n in self.adapted.items()]
        for m, r in self.modes.items():
            if r.widths:
                lines.append(f"note: {m}: Gaussian width (sd / crop side) chosen on the calibration split: "
                             + ", ".join(f"{p} {w:g}" for p, w in r.widths.items()))
        return lines + [f"note: {m} not run: {why}" for m, why in (self.not_run.items() if not_run else ())]

    def text(self) -> str:
        """The three protocols side by side with their 95 % intervals, then the paired
        comparison with the Baseline, then the notes (plain text, for the terminal)."""
        if not self.protocols:
            return "\n".join([*(f"  {m:<18} {pct_fmt(r.miou)}" for m, r in self.modes.items()), *self.notes()])
        P, V = self.protocols["protocols"], self.protocols["vs_baseline"]
        width = max(len(m) for m in self.modes)
        cal = self.calibration or {}
        lines = [f"mIoU (%) with 95 % bootstrap intervals over evaluation images "
                 f"({self.config.get('eval_split')}, {self.config.get('backbone')}):",
                 f"  fixed = threshold {self.threshold} (one arbitrary choice: the paper's); "
                 f"calibrated = each mode's threshold chosen on "
                 + (f"'{cal.get('split')}' ({cal.get('images')} images, disjoint from the evaluation split)"
                    if cal.get("split") else "no calibration split (off)")
                 + "; AUC = area under the mIoU-threshold curve over [0, 1] (threshold-free)",
                 f"  {'mode':<{width}}  {'fixed':>21}  {'calibrated (t)':>29}  {'AUC':>21}"]
        for m in self.modes:
            f, c, a = P["fixed"].get(m, {}), P["calibrated"].get(m, {}), P["auc"].get(m, {})
            t = c.get("threshold")
            lines.append(f"  {m:<{width}}  {_cell(f):>21}  {_cell(c) + (f' ({t:.3f})' if t is not None else ''):>29}"
                         f"  {_cell(a):>21}")
        others = [m for m in self.modes if m in V["fixed"]]
        if others:
            lines.append("Against the Baseline (paired bootstrap): difference in points [95 % interval], "
                         "share of resamples where the mode is better")
            lines.append(f"  {'mode':<{width}}  {'fixed':>27}  {'calibrated':>27}  {'AUC':>27}")
            for m in others:
                cells = []
                for p in PROTOCOLS:
                    e = V[p].get(m, {})
                    lo, hi = e.get("ci", [None, None])
                    pb = e.get("p_better")
                    cells.append(f"{fmt(e.get('diff'), True)} [{fmt(lo, True)}, {fmt(hi, True)}] "
                                 f"{'' if pb is None else f'{pb:.2f}'}")
                lines.append(f"  {m:<{width}}  " + "  ".join(f"{c:>27}" for c in cells))
        return "\n".join(lines + self.notes())


def aggregate_seeds(per_seed: Mapping[int, Results]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of each mode's mIoU and per-class IoU (percent), and
    of every protocol (``protocols``/``vs_baseline``: mean, sd and the per-seed values).

    Training a small network is noisy; a claim about modes should rest on several seeds."""
    first = next(iter(per_seed.values()))
    modes = list(first.modes)
    miou = {m: mean_sd([r.modes[m].miou for r in per_seed.values()]) for m in modes}  # unrounded, rounded once
    per_class = {m: np.nanmean([r.modes[m].per_class for r in per_seed.values()], 0) for m in modes}
    out = {
        "threshold": first.threshold,
        "classes": list(first.class_names),
        "seeds": list(per_seed),
        "miou": {m: mean for m, (mean, _) in miou.items()},
        "miou_std": {m: sd for m, (_, sd) in miou.items()},
        "per_seed": {str(s): {m: pct(r.modes[m].miou) for m in modes} for s, r in per_seed.items()},
        "per_class": {m: {n: pct(v) for n, v in zip(first.class_names, per_class[m])} for m in modes},
        "config": first.config,
        "adapted": dict(first.adapted),
        "not_run": dict(first.not_run),
        "computed_on": merge_machines(m for r in per_seed.values() for m in r.computed_on),
    }
    if all(r.values for r in per_seed.values()):
        out.update(aggregate_protocols([r.values for r in per_seed.values()], modes))
        out["calibration"] = first.calibration
    return out


def seeds_text(data: Mapping[str, Any]) -> str:
    """The plain-text table of :func:`aggregate_seeds`: mean ± sd per protocol, per-seed values."""
    seeds = data["seeds"]
    width = max(len(m) for m in data["miou"])
    if "protocols" not in data:
        lines = [f"mIoU (%) at threshold {data['threshold']}, mean ± sd over seeds {', '.join(map(str, seeds))}:"]
        for m in data["miou"]:
            runs = "  ".join(f"{fmt(data['per_seed'][str(s)][m]):>6}" for s in seeds)
            lines.append(f"  {m:<{width}}  {fmt(data['miou'][m]):>6} ± {fmt(data['miou_std'][m]):>5}   ({runs})")
        return "\n".join(lines)
    P, V = data["protocols"], data["vs_baseline"]
    notes = [f"note: {m} adapted to this dataset: {n}" for m, n in data.get("adapted", {}).items()]
    notes += [f"note: {m} not run: {why}" for m, why in data.get("not_run", {}).items()]
    lines = [f"mIoU (%), mean ± sd over seeds {', '.join(map(str, seeds))} (fixed = threshold {data['threshold']}; "
             f"calibrated = thresholds chosen on the calibration split; AUC = threshold-free):",
             f"  {'mode':<{width}}  {'fixed':>14}  {'calibrated':>14}  {'AUC':>14}   "
             f"{'vs Baseline: fixed':>19}  {'calibrated':>13}  {'AUC':>13}"]
    for m in data["miou"]:
        cells = [_ms(P[p].get(m)) for p in PROTOCOLS]
        diffs = [_ms(V[p].get(m), signed=True) if m in V[p] else "" for p in PROTOCOLS]
        lines.append(f"  {m:<{width}}  " + "  ".join(f"{c:>14}" for c in cells)
                     + f"   {diffs[0]:>19}  {diffs[1]:>13}  {diffs[2]:>13}")
    return "\n".join(lines + notes)


def _ms(e: Mapping[str, Any] | None, signed: bool = False) -> str:
    if not e or e.get("mean") is None:
        return "n/a"
    return f"{fmt(e['mean'], signed)} ± {fmt(e['sd'])}"


def _cell(e: Mapping[str, Any]) -> str:
    if e.get("miou") is None:
        return "n/a"
    lo, hi = e.get("ci", [None, None])
    return f"{fmt(e['miou']):>6} [{fmt(lo)}, {fmt(hi)}]"
