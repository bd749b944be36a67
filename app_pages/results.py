"""Results: the ablation table (modes x backbones) under a chosen protocol (fixed, calibrated,
AUC) with 95 % intervals, the paired comparison with the Baseline, Table 1 as a heatmap, per-class
bars, the mIoU-vs-threshold curve with the calibrated thresholds, and CSV/PNG downloads. Reads
the cache (per-mode protocol values are cached too); computes only on a button."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from repcam_app import settings, state
from repcam_app.figures import (ablation_bars, pairwise_heatmap, per_class_bars, png_bytes, table_png,
                                threshold_curves)
from repcam_app.resources import guard, pipeline
from repcam_app.widgets import READ_ONLY_NOTE, progress_panel, submit
from repcam_core.experiment import Experiment
from repcam_core.explore import cached_pairwise
from repcam_core.method.modes import DEFAULT_MODES, parse_mode
from repcam_core.models.backbones import BACKBONES
from repcam_core.pipeline import Pipeline
from repcam_core.tables import pairwise_table_csv

st.title("Results")
state.init()
p = pipeline()
cfg, names, ss = p.config, list(p.class_names), st.session_state
CANDIDATES = list(dict.fromkeys([*DEFAULT_MODES, "All+A"]))
PROTOCOL_LABELS = {"fixed": f"fixed threshold {cfg.threshold}", "calibrated": "calibrated threshold",
                   "auc": "AUC (threshold-free)"}

with guard():
    by_backbone = {}
    for b in BACKBONES.names():
        pl = p if b == cfg.backbone else Pipeline(cfg.with_(backbone=b), p.cache)
        found = Experiment(pl).cached(CANDIDATES)
        if found is not None:
            by_backbone[b] = found
    mine = by_backbone.get(cfg.backbone)
    valid = []
    for m in DEFAULT_MODES:
        try:
            Experiment(p).needs([parse_mode(m)])
            valid.append(m)
        except Exception:
            pass

with st.expander("Evaluate more modes for this configuration", expanded=mine is None):
    chosen = st.multiselect("Modes", valid, default=[m for m in ("Baseline", "S-1+A+F") if m in valid],
                            key=state.RES_MODES)
    if settings.read_only():
        st.caption(READ_ONLY_NOTE)
    if st.button("Evaluate", key="res_run", disabled=settings.read_only() or not chosen):
        job = submit(p, "results:" + ",".join(chosen), lambda: Experiment(p).run(chosen) and None,
                     f"evaluate {len(chosen)} mode(s)")
        progress_panel([job])

if not by_backbone:
    st.info("No evaluated mode in the cache yet for this dataset; evaluate some above or on the Home page.")
    st.stop()

ss.setdefault(state.RES_PROTOCOL, "fixed")
st.radio("Protocol", list(PROTOCOL_LABELS), format_func=PROTOCOL_LABELS.get, key=state.RES_PROTOCOL,
         horizontal=True, help="fixed: the paper's one threshold for every mode (an arbitrary choice that favours "
         "peaky maps); calibrated: each mode's own threshold, chosen on a calibration split disjoint from the "
         "evaluation images; AUC: the area under the mIoU-threshold curve, which depends on no threshold. "
         "Intervals: 95 % bootstrap over evaluation images.")
proto = ss[state.RES_PROTOCOL]
cal = next(iter(by_backbone.values())).calibration
if proto == "calibrated" and not cal.get("split"):
    st.warning("No calibration split for this dataset: the calibrated protocol is off (see --calibration-split).")
elif proto == "calibrated":
    st.caption(f"Thresholds chosen on '{cal['split']}' ({cal['images']} images), scored on '{cal['eval_split']}'.")
entries = {b: r.protocols["protocols"][proto] for b, r in by_backbone.items()}
table = {b: {m: e[m]["miou"] for m in r.modes} for b, (r, e) in
         ((b, (by_backbone[b], entries[b])) for b in by_backbone)}
intervals = {b: {m: e[m]["ci"] for m in by_backbone[b].modes} for b, e in entries.items()}

st.subheader(f"Ablation: mIoU (%) — modes × backbones · {PROTOCOL_LABELS[proto]}")
order = [m for m in CANDIDATES if any(m in t for t in table.values())]
df = pd.DataFrame(table).reindex(order)
ci_df = pd.DataFrame({f"{b} 95% CI": {m: "—" if v[0] is None else f"[{v[0]:.2f}, {v[1]:.2f}]" for m, v in iv.items()}
                      for b, iv in intervals.items()}).reindex(order)
st.dataframe(pd.concat([df, ci_df], axis=1).style.format("{:.2f}", na_rep="—", subset=list(df.columns)),
             key="res_table")
st.plotly_chart(ablation_bars(table, intervals, f"mIoU (%) per mode · {PROTOCOL_LABELS[proto]} · 95 % intervals"),
                key="res_ablation")
d1, d2 = st.columns(2)
d1.download_button("Ablation table (CSV)", pd.concat([df, ci_df], axis=1).to_csv(), f"ablation_{proto}.csv",
                   "text/csv", key="dl_ablation_csv")
d2.download_button("Ablation table (PNG)", table_png(["mode", *df.columns], [[i, *[
    "—" if not np.isfinite(v) else f"{v:.2f}" for v in row]] for i, row in df.iterrows()]),
    "ablation.png", "image/png", key="dl_ablation_png")

if mine is None:
    st.info(f"No evaluated mode for backbone {cfg.backbone}; per-class charts need one.")
    st.stop()
vs = mine.protocols["vs_baseline"][proto]
st.subheader(f"Against the Baseline — {cfg.backbone} · {PROTOCOL_LABELS[proto]}")
if vs:
    st.caption("Paired bootstrap over the same resampled evaluation images: the difference in points, its 95 % "
               "interval, and the share of resamples in which the mode beats the Baseline.")
    st.dataframe(pd.DataFrame({"mode": list(vs), "diff (pts)": [v["diff"] for v in vs.values()],
                               "95% CI": ["—" if v["ci"][0] is None else f"[{v['ci'][0]:+.2f}, {v['ci'][1]:+.2f}]"
                                          for v in vs.values()],
                               "P(better)": [v["p_better"] for v in vs.values()]}),
                 hide_index=True, key="res_vs_baseline")
else:
    st.info("The Baseline is not evaluated for this configuration; evaluate it to compare with it.")

st.subheader(f"Per class and threshold — {cfg.backbone}")
ss.setdefault(state.RES_CURVE_MODES, list(mine.modes)[:4])
if any(m not in mine.modes for m in ss[state.RES_CURVE_MODES]):
    ss[state.RES_CURVE_MODES] = [m for m in ss[state.RES_CURVE_MODES] if m in mine.modes]
st.multiselect("Modes to compare", list(mine.modes), key=state.RES_CURVE_MODES)
sel = ss[state.RES_CURVE_MODES]
st.plotly_chart(per_class_bars(names, {m: mine.modes[m].per_class for m in sel}), key="res_per_class")
calibrated = {m: mine.protocols["protocols"]["calibrated"][m]["threshold"] for m in sel}
curve = threshold_curves({m: (mine.modes[m].thresholds, mine.modes[m].iou) for m in sel}, cfg.threshold, calibrated)
st.plotly_chart(curve, key="res_curve")
st.caption("Dashed line: the fixed threshold; diamonds: each mode's calibrated threshold.")
st.download_button("Per-class IoU and protocols (CSV)", mine.to_csv(), "per_class.csv", "text/csv",
                   key="dl_results_csv")
results, mine_modes = mine, mine.modes

st.subheader("Pairwise table (Table 1)")
with guard():
    pairwise = cached_pairwise(Experiment(p))
if pairwise is None:
    st.info("The pairwise table is not in the cache; compute it on the Home page (trains every pair).")
    st.stop()
extra = {label: mine_modes[m].per_class for m, label in (("Top1", "Top1"), ("Top2", "Top2"), ("Top3", "Top3"),
                                                      ("Top4", "Top4"), ("All", "All"), ("Baseline", "Grad-CAM"))
         if m in mine_modes}
fig = pairwise_heatmap(pairwise["single"], names, extra)
st.plotly_chart(fig, key="res_pairwise")
e1, e2 = st.columns(2)
e1.download_button("Table 1 (CSV)", pairwise_table_csv(names, pairwise["single"], results), "table1.csv",
                   "text/csv", key="dl_pairwise_csv")
if e2.button("Prepare Table 1 as PNG", key="res_png"):
    png = png_bytes(fig)
    if png is None:
        st.info("PNG export of charts needs kaleido with Chrome/Chromium, which is not available here; "
                "use the camera icon above the chart instead.")
    else:
        e2.download_button("Download PNG", png, "table1.png", "image/png", key="dl_pairwise_png")
