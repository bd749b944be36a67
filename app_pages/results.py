"""Results: the ablation table (modes x backbones), Table 1 as a heatmap, per-class bars, the
mIoU-vs-threshold curve, and CSV/PNG downloads. Reads the cache; computes only on a button."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from repcam_app import settings, state
from repcam_app.figures import (ablation_bars, pairwise_heatmap, per_class_bars, png_bytes, table_png,
                                threshold_curves)
from repcam_app.resources import guard, pipeline
from repcam_app.widgets import READ_ONLY_NOTE, progress_panel, submit
from repcam_core.experiment import Experiment, Results
from repcam_core.explore import cached_pairwise
from repcam_core.method.modes import PAPER_MODES, parse_mode
from repcam_core.models.backbones import BACKBONES
from repcam_core.pipeline import Pipeline
from repcam_core.tables import pairwise_table_csv

st.title("Results")
state.init()
p = pipeline()
cfg, names, ss = p.config, list(p.class_names), st.session_state
CANDIDATES = list(dict.fromkeys([*PAPER_MODES, "All+A"]))


def cached_modes(pl: Pipeline) -> dict:
    exp = Experiment(pl)
    return {m: exp.evaluate_mode(parse_mode(m)) for m in CANDIDATES
            if pl.cache.has("results", exp.mode_key(parse_mode(m)))}


with guard():
    table = {}
    for b in BACKBONES.names():
        pl = p if b == cfg.backbone else Pipeline(cfg.with_(backbone=b), p.cache)
        found = cached_modes(pl)
        if found:
            table[b] = {m: round(100 * r.miou, 2) for m, r in found.items()}
    mine = cached_modes(p)
    valid = []
    for m in PAPER_MODES:
        try:
            Experiment(p).needs([parse_mode(m)])
            valid.append(m)
        except Exception:
            pass

with st.expander("Evaluate more modes for this configuration", expanded=not mine):
    chosen = st.multiselect("Modes", valid, default=[m for m in ("Baseline", "S-1+A+F") if m in valid],
                            key=state.RES_MODES)
    if settings.read_only():
        st.caption(READ_ONLY_NOTE)
    if st.button("Evaluate", key="res_run", disabled=settings.read_only() or not chosen):
        job = submit(p, "results:" + ",".join(chosen), lambda: Experiment(p).run(chosen) and None,
                     f"evaluate {len(chosen)} mode(s)")
        progress_panel([job])

if not table:
    st.info("No evaluated mode in the cache yet for this dataset; evaluate some above or on the Home page.")
    st.stop()

st.subheader("Ablation: mIoU (%) — modes × backbones")
df = pd.DataFrame(table).reindex([m for m in CANDIDATES if any(m in t for t in table.values())])
st.dataframe(df.style.format("{:.2f}", na_rep="—"), key="res_table")
st.plotly_chart(ablation_bars(table), key="res_ablation")
d1, d2 = st.columns(2)
d1.download_button("Ablation table (CSV)", df.to_csv(), "ablation.csv", "text/csv", key="dl_ablation_csv")
d2.download_button("Ablation table (PNG)", table_png(["mode", *df.columns], [[i, *[
    "—" if not np.isfinite(v) else f"{v:.2f}" for v in row]] for i, row in df.iterrows()]),
    "ablation.png", "image/png", key="dl_ablation_png")

if not mine:
    st.info(f"No evaluated mode for backbone {cfg.backbone}; per-class charts need one.")
    st.stop()
results = Results(p.class_names, cfg.threshold, mine, cfg.to_dict())
st.subheader(f"Per class and threshold — {cfg.backbone}")
ss.setdefault(state.RES_CURVE_MODES, list(mine)[:4])
if any(m not in mine for m in ss[state.RES_CURVE_MODES]):
    ss[state.RES_CURVE_MODES] = [m for m in ss[state.RES_CURVE_MODES] if m in mine]
st.multiselect("Modes to compare", list(mine), key=state.RES_CURVE_MODES)
sel = ss[state.RES_CURVE_MODES]
st.plotly_chart(per_class_bars(names, {m: mine[m].per_class for m in sel}), key="res_per_class")
curve = threshold_curves({m: (mine[m].thresholds, mine[m].iou) for m in sel}, cfg.threshold)
st.plotly_chart(curve, key="res_curve")
st.download_button("Per-class IoU (CSV)", results.to_csv(), "per_class.csv", "text/csv", key="dl_results_csv")

st.subheader("Pairwise table (Table 1)")
with guard():
    pairwise = cached_pairwise(Experiment(p))
if pairwise is None:
    st.info("The pairwise table is not in the cache; compute it on the Home page (trains every pair).")
    st.stop()
extra = {label: mine[m].per_class for m, label in (("Top1", "Top1"), ("Top2", "Top2"), ("Top3", "Top3"),
                                                      ("Top4", "Top4"), ("All", "All"), ("Baseline", "Grad-CAM"))
         if m in mine}
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
