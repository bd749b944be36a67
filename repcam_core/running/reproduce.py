"""``repcam reproduce tableN``: our figures in the paper's layout, the published ones beside them
(:mod:`repcam_core.evaluation.paper_tables`) and the difference (ours - paper), in mIoU percent.

* table1: the pairwise table (every binary model) and rows Top1-4, All, Grad-CAM, per class;
* table2 / table4: the ablation modes (rows) x backbones (columns) on the ``val`` split
  (table 4 is the paper's small networks); a backbone's published figure is looked up in
  whichever of the two tables has it;
* table3: as table2 on the ``train`` split (published figures not in our copy of the paper);
* table5: CAM, Grad-CAM, Ours w/o fusion (S-1+F) and Ours (S-1+A+F) on VOC val, VOC train and,
  given a COCO directory, COCO val. ACoL and CBAM are other papers' models, not implemented.

Every table also has the reference maps' rows (Ref-Whole, Ref-Centre: :mod:`repcam_core.evaluation.reference`),
ours only: the paper has no such figures.

A mode that cannot run on the dataset (e.g. Rank-a's positions on a 6-class dataset) is written
as n/a with the reason in the notes. The published figures use the paper's fixed threshold (0.15);
beside them each of our cells is also given under the calibrated and AUC protocols, with 95 %
bootstrap intervals (``tableN_protocols.csv``, the JSON's ``protocols``, the text's second block):
:mod:`repcam_core.evaluation.protocols`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from repcam_core.evaluation import paper_tables as pt
from repcam_core.running.config import RunConfig
from repcam_core.errors import ConfigError, RepCAMError
from repcam_core.storage.machine import merge as merge_machines
from repcam_core.method.modes import REFERENCE_MODES
from repcam_core.evaluation.percent import fmt, pct, points

TABLES = ("table1", "table2", "table3", "table4", "table5")
Number = float | None


@dataclass
class Reproduction:
    """One reproduced table: ``ours``/``paper`` map row -> column -> mIoU % (None: n/a)."""

    table: str
    columns: list[str]
    rows: list[str]
    ours: dict[str, dict[str, Number]]
    paper: dict[str, dict[str, Number]]
    notes: list[str] = field(default_factory=list)
    layout_csv: str = ""  # ours in the paper's exact layout
    labels: dict[str, str] = field(default_factory=dict)  # row -> the paper's row label
    protocols: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """row -> column -> {"fixed"|"calibrated"|"auc": {"miou", "ci", ["threshold"]}} (ours only)."""
    computed_on: list[dict[str, Any]] = field(default_factory=list)
    """The machine records behind our figures (:mod:`repcam_core.storage.machine`)."""

    def protocols_csv(self) -> str:
        """Rows = the paper's rows; per column: the paper's figure, then ours under each protocol
        with its 95 % interval (and the calibrated threshold)."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["Method", *[f"{c} {k}" for c in self.columns for k in (
            "paper", "fixed", "fixed lo", "fixed hi", "calibrated", "calibrated lo", "calibrated hi",
            "calibrated threshold", "auc", "auc lo", "auc hi")]])
        for r in self.rows:
            row = [self.labels.get(r, r)]
            for c in self.columns:
                e = self.protocols.get(r, {}).get(c, {})
                row.append(_fmt(self.paper.get(r, {}).get(c)))
                for proto in ("fixed", "calibrated", "auc"):
                    v = e.get(proto, {})
                    lo, hi = v.get("ci", [None, None])
                    row += [_fmt(v.get("miou")), _fmt(lo), _fmt(hi)]
                    if proto == "calibrated":
                        row.append("" if v.get("threshold") is None else f"{v['threshold']:.3f}")
            w.writerow(row)
        return buf.getvalue()

    def protocols_text(self) -> str:
        if not self.protocols:
            return ""
        lines = ["ours under every protocol: fixed 0.15 / calibrated (threshold) / AUC, mIoU % "
                 "[95 % bootstrap interval]"]
        for c in self.columns:
            for r in self.rows:
                e = self.protocols.get(r, {}).get(c)
                if not e:
                    continue
                cells = []
                for proto in ("fixed", "calibrated", "auc"):
                    v = e.get(proto, {})
                    lo, hi = v.get("ci", [None, None])
                    t = f" (t={v['threshold']:.3f})" if proto == "calibrated" and v.get("threshold") is not None else ""
                    cells.append(f"{_fmt(v.get('miou')) or 'n/a'}{t} [{_fmt(lo) or 'n/a'}, {_fmt(hi) or 'n/a'}]")
                lines.append(f"  {c} {self.labels.get(r, r)}: " + " / ".join(cells))
        return "\n".join(lines)

    def diff(self) -> dict[str, dict[str, Number]]:
        return {r: {c: _sub(self.ours.get(r, {}).get(c), self.paper.get(r, {}).get(c)) for c in self.columns}
                for r in self.rows}

    def comparison_csv(self) -> str:
        """Rows = the paper's rows; per column three values: ours, paper, diff."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["Method", *[f"{c} {k}" for c in self.columns for k in ("ours", "paper", "diff")]])
        diff = self.diff()
        for r in self.rows:
            w.writerow([self.labels.get(r, r), *[_fmt(v) for c in self.columns for v in
                                                 (self.ours.get(r, {}).get(c), self.paper.get(r, {}).get(c),
                                                  diff[r][c])]])
        return buf.getvalue()

    def paper_csv(self) -> str:
        return _grid_csv(self.rows, self.columns, self.paper, self.labels)

    def text(self) -> str:
        """A fixed-width view: ``ours (paper, diff)`` per cell."""
        diff = self.diff()
        head = ["Method", *self.columns]
        body = [[self.labels.get(r, r), *[_cell(self.ours.get(r, {}).get(c), self.paper.get(r, {}).get(c),
                                                diff[r][c]) for c in self.columns]] for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(v.ljust(wd) for v, wd in zip(row, widths)).rstrip() for row in [head, *body]]
        extra = self.protocols_text()
        return "\n".join([f"{self.table}: ours (paper, ours - paper), mIoU % at the paper's threshold 0.15", *lines,
                          *([extra] if extra else []), *[f"note: {n}" for n in self.notes]])

    def write(self, out: Path) -> list[Path]:
        """``tableN.csv`` (ours, paper layout), ``tableN_paper.csv``, ``tableN_comparison.csv``,
        ``tableN.json``; each written atomically."""
        from repcam_core.storage.cache import write_json_atomic

        out.mkdir(parents=True, exist_ok=True)
        files = {f"{self.table}.csv": self.layout_csv or _grid_csv(self.rows, self.columns, self.ours, self.labels),
                 f"{self.table}_paper.csv": self.paper_csv(),
                 f"{self.table}_comparison.csv": self.comparison_csv(),
                 f"{self.table}_protocols.csv": self.protocols_csv()}
        paths = []
        for name, text in files.items():
            _write_text(out / name, text)
            paths.append(out / name)
        write_json_atomic(out / f"{self.table}.json", {
            "table": self.table, "columns": self.columns, "rows": self.rows, "ours": self.ours,
            "paper": self.paper, "diff": self.diff(), "protocols": self.protocols, "notes": self.notes,
            "computed_on": self.computed_on})
        return [*paths, out / f"{self.table}.json"]


def reproduce(table: str, base: RunConfig, *, cache: Any = None, progress: Any = None,
              backbones: Sequence[str] | None = None, modes: Sequence[str] | None = None,
              executor: Any = None, coco_dataset: str | None = None) -> Reproduction:
    """Run what ``table`` needs on top of ``base`` and return it beside the published figures."""
    if table not in TABLES:
        raise ConfigError(f"unknown table {table!r}; choose one of: {', '.join(TABLES)}")

    def experiment(config: RunConfig):
        from repcam_core.running.experiment import Experiment
        from repcam_core.running.pipeline import Pipeline

        return Experiment(Pipeline(config, cache=cache, progress=progress), executor=executor)

    if table == "table1":
        return _table1(base, experiment)
    if table == "table5":
        return _table5(base, experiment, coco_dataset)
    return _ablation(table, base, experiment, backbones, modes)


# ----------------------------------------------------------------------------- tables
def _table1(base: RunConfig, experiment: Callable) -> Reproduction:
    from repcam_core.evaluation.tables import pairwise_table_csv

    exp = experiment(base)
    tops = ["Top1", "Top2", "Top3", "Top4"]
    # Top-k beyond the classes there are, Ref-Centre without a calibration split: n/a
    res = exp.run(["Baseline", *tops, "All", *REFERENCE_MODES], optional=[*tops, *REFERENCE_MODES])
    names = list(exp.p.class_names)
    rows = ["Top1", "Top2", "Top3", "Top4", "All", "Baseline", *REFERENCE_MODES]
    ours = {r: {**{n: pct(v) for n, v in zip(names, res.modes[r].per_class)}, "avg": pct(res.modes[r].miou)}
            if r in res.modes else {} for r in rows}
    paper = {r: {c: v for c, v in pt.TABLE1.get(r, {}).items() if c in names or c == "avg"} for r in rows}
    notes = [f"paper: ResNet-152 on VOC 2012 val; ours: {base.backbone} on {base.dataset} ({base.eval_split})"]
    notes += [f"{m}: n/a ({why})" for m, why in res.not_run.items()]
    if not set(names) & set(pt.VOC_CLASS_ORDER):
        notes.append("the dataset's classes are not VOC's: only the average is comparable")
    layout = pairwise_table_csv(exp.p.class_names, exp.pairwise()["single"], res)
    protos = {r: {"avg": _protocols_of(res, r)} for r in rows if r in res.modes}
    return Reproduction("table1", [*names, "avg"], rows, ours, paper, notes, layout, dict(pt.TABLE1_LABELS),
                        protos, res.computed_on)


def _ablation(table: str, base: RunConfig, experiment: Callable, backbones: Sequence[str] | None,
              modes: Sequence[str] | None) -> Reproduction:
    from repcam_core.method.modes import parse_mode

    default = pt.TABLE4_BACKBONES if table == "table4" else pt.TABLE2_BACKBONES
    backbones = list(backbones or default)
    rows = [parse_mode(m).name for m in (modes or (*pt.TABLE_MODES, *REFERENCE_MODES))]
    split = "train" if table == "table3" else "val"
    ours: dict[str, dict[str, Number]] = {r: {} for r in rows}
    paper: dict[str, dict[str, Number]] = {r: {} for r in rows}
    protos: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in rows}
    notes: list[str] = []
    machines: list[dict[str, Any]] = []
    columns = [pt.BACKBONE_LABELS.get(b, b) for b in backbones]
    for bb, col in zip(backbones, columns):
        exp = experiment(base.with_(backbone=bb, eval_split=split))
        runnable = []
        for r in rows:
            try:
                exp.needs([parse_mode(r)])
                runnable.append(r)
            except RepCAMError as exc:
                ours[r][col] = None
                notes.append(f"{col} {r}: n/a ({exc})")
        if runnable:
            res = exp.run(runnable)
            notes += [f"{col} {r}: {note}" for r, note in res.adapted.items()]
            machines += res.computed_on
            for r in runnable:
                ours[r][col] = pct(res.modes[r].miou)
                protos[r][col] = _protocols_of(res, r)
        for r in rows:
            if table == "table3":
                paper[r][col] = None
            else:
                published = pt.TABLE2 if bb in pt.TABLE2_BACKBONES else pt.TABLE4
                paper[r][col] = published.get(r, {}).get(bb)
    if table == "table3":
        notes.insert(0, pt.TABLE3_NOTE + "; the text quotes Baseline 29.41 and the best mode 35.93 (Res-152)")
    else:
        notes.insert(0, "paper: VOC 2012 val; Res-50/101/152 from Table 2, VGG-19/Res-18/Mobilenet from Table 4")
    labels = dict(pt.TABLE4_LABELS) if table == "table4" else {}
    return Reproduction(table, columns, rows, ours, paper, notes, labels=labels, protocols=protos,
                        computed_on=merge_machines(machines))


def _table5(base: RunConfig, experiment: Callable, coco_dataset: str | None) -> Reproduction:
    recipes = {**pt.TABLE5_RECIPES, **{m: (m, "gradcam") for m in REFERENCE_MODES}}
    rows = list(recipes)
    columns = list(pt.TABLE5_COLUMNS)
    ours: dict[str, dict[str, Number]] = {r: {c: None for c in columns} for r in rows}
    protos: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in rows}
    paper = {r: dict(pt.TABLE5[r][1]) if r in pt.TABLE5 else {} for r in rows}
    notes = [f"ours: {base.backbone} (the paper's best network per method is in its Table 5)"]
    machines: list[dict[str, Any]] = []
    runs = {"PASCAL-val": base.with_(eval_split="val"), "PASCAL-train": base.with_(eval_split="train")}
    if coco_dataset:
        spec = coco_dataset if coco_dataset.startswith("coco:") else f"coco:{coco_dataset}"
        runs["COCO-val"] = base.with_(dataset=spec, train_split="train-single", eval_split="val")
    else:
        notes.append("COCO-val: not run (give --coco DIR)")
    for r in rows:
        if recipes[r] is None:
            notes.append(f"{r}: another paper's model, not implemented here")
    for col, config in runs.items():
        for method in ("gradcam", "cam"):
            wanted = [(r, rec[0]) for r, rec in recipes.items() if rec is not None and rec[1] == method]
            res = experiment(config.with_(cam_method=method)).run([m for _, m in wanted], optional=REFERENCE_MODES)
            notes += [f"{col} {m}: n/a ({why})" for m, why in res.not_run.items()]
            machines += res.computed_on
            for r, m in wanted:
                if m not in res.modes:
                    continue
                ours[r][col] = pct(res.modes[m].miou)
                protos[r][col] = _protocols_of(res, m)
    return Reproduction("table5", columns, rows, ours, paper, notes, protocols=protos,
                        computed_on=merge_machines(machines))


# ---------------------------------------------------------------------------- helpers
def _protocols_of(res: Any, mode: str) -> dict[str, Any]:
    """One mode's entry of every protocol from :meth:`Results.to_json` (empty without protocols)."""
    data = res.to_json().get("protocols", {})
    return {proto: entries[mode] for proto, entries in data.items() if mode in entries}


def _sub(a: Number, b: Number) -> Number:
    """Ours minus the paper's figure, both as shown (so the three numbers of a cell agree)."""
    return None if a is None or b is None else points(a - b)


def _fmt(v: Number) -> str:
    return fmt(v, missing="")


def _cell(ours: Number, paper: Number, diff: Number) -> str:
    if paper is None:
        return fmt(ours)
    return f"{fmt(ours)} ({fmt(paper)}, {fmt(diff, signed=True)})"


def _grid_csv(rows: list[str], columns: list[str], values: dict[str, dict[str, Number]],
              labels: dict[str, str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Method", *columns])
    for r in rows:
        w.writerow([labels.get(r, r), *[_fmt(values.get(r, {}).get(c)) for c in columns]])
    return buf.getvalue()


def _write_text(path: Path, text: str) -> None:
    from repcam_core.storage.cache import write_text_atomic

    write_text_atomic(path, text)


__all__ = ["TABLES", "Reproduction", "reproduce"]
