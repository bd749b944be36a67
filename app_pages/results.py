"""Results: the ablation table (modes x backbones), Table 1 as a heatmap, per-class bars, the
mIoU-vs-threshold curve, the paper's figures, and CSV/PNG/PDF downloads. Reads the cache; computes
only on a button (PNG exports are drawn with matplotlib by the core, no browser needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from repcam_app import state
from repcam_app.exports import downloads, figure_files, png, table_png
from repcam_app.figures import ablation_bars, pairwise_heatmap, per_class_bars, threshold_curves
from repcam_app.jobs import registry
from repcam_app.resources import config_key, guard, pipeline
from repcam_app.widgets import progress_panel, submit
from repcam_core.figures import WIDTHS, charts
from repcam_core.figures.paper import PAPER_FIGURES, build
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
    if st.button("Evaluate", key="res_run", disabled=not chosen):
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
with guard():
    pairwise = cached_pairwise(Experiment(p))
extra = {label: mine[m].per_class for m, label in (("Top1", "Top1"), ("Top2", "Top2"), ("Top3", "Top3"),
                                                      ("Top4", "Top4"), ("All", "All"), ("Baseline", "Grad-CAM"))
         if m in mine}

charts_for = (tuple(sorted(table.items(), key=str)), tuple(sel), pairwise is not None)
if st.button("Prepare the charts as PNG", key=state.RES_CHARTS_BUTTON):
    with st.spinner("Drawing the charts…"):
        pngs = {"ablation": png(charts.ablation_figure(table)),
                "per_class": png(charts.per_class_figure(names, {m: mine[m].per_class for m in sel})),
                "threshold": png(charts.threshold_figure({m: (mine[m].thresholds, mine[m].iou) for m in sel},
                                                         cfg.threshold))}
        if pairwise is not None:
            pngs["table1"] = png(charts.pairwise_figure(pairwise["single"], names, extra))
    ss[state.RES_CHARTS] = {"for": charts_for, **pngs}
ready_pngs = ss[state.RES_CHARTS]
if ready_pngs is not None and ready_pngs["for"] == charts_for:
    cols = st.columns(len(ready_pngs) - 1)
    for col, (name, data) in zip(cols, [(k, v) for k, v in ready_pngs.items() if k != "for"]):
        col.download_button(f"{name}.png", data, f"{name}.png", "image/png", key=f"dl_chart_{name}_png")

st.subheader("Paper figures (PDF / PNG)")
st.caption("The layouts of the paper's Figs. 1, 5, 6 and 7 for one class, drawn by the same code as "
           "`repcam figure`; binary models that are missing are trained in the background.")
fig_modes = [m for m in valid if parse_mode(m).kind not in ("baseline", "topk", "all")] or ["S-1+A+F"]
for key, default in ((state.RES_FIG_CLASS, names[0]), (state.RES_FIG_IMAGES, min(3, len(names))),
                     (state.RES_FIG_MODE, "S-1+A+F" if "S-1+A+F" in fig_modes else fig_modes[0]),
                     (state.RES_FIG_WIDTH, "double")):
    ss.setdefault(key, default)
g = st.columns([3, 2, 1, 2, 1])
g[0].selectbox("Figure", PAPER_FIGURES.names(), key=state.RES_FIG,
               format_func=lambda n: f"{n} — {PAPER_FIGURES.get(n).description}")
g[1].selectbox("Class", names, key=state.RES_FIG_CLASS)
g[2].number_input("Images", min_value=1, max_value=12, step=1, key=state.RES_FIG_IMAGES)
g[3].selectbox("Mode", fig_modes, key=state.RES_FIG_MODE)
g[4].selectbox("Width", list(WIDTHS), key=state.RES_FIG_WIDTH)
request = (ss[state.RES_FIG], ss[state.RES_FIG_CLASS], int(ss[state.RES_FIG_IMAGES]), ss[state.RES_FIG_MODE],
           ss[state.RES_FIG_WIDTH])
job_name = "figure:" + ":".join(map(str, request))


def make_figure() -> dict:
    fig, _ = build(p, request[0], request[1], request[2], request[3], request[4])
    return figure_files(fig)


if st.button("Prepare figure", key=state.RES_FIG_BUTTON):
    submit(p, job_name, make_figure, f"{request[0]} of {request[1]}", lane="interactive")
job = registry().get(config_key(cfg), job_name)
if job is not None and job.status == "done":
    ss[state.RES_FIG_FILES] = {"for": job_name, "stem": f"{request[0]}-{request[1]}", **job.result}
elif job is not None:
    progress_panel([job])
done = ss[state.RES_FIG_FILES]
if done is not None and done["for"] == job_name:
    downloads({fmt: done[fmt] for fmt in ("pdf", "png")}, done["stem"], state.RES_FIG_DL)

st.subheader("Pairwise table (Table 1)")
if pairwise is None:
    st.info("The pairwise table is not in the cache; compute it on the Home page (trains every pair).")
    st.stop()
st.plotly_chart(pairwise_heatmap(pairwise["single"], names, extra), key="res_pairwise")
st.download_button("Table 1 (CSV)", pairwise_table_csv(names, pairwise["single"], results), "table1.csv",
                   "text/csv", key="dl_pairwise_csv")
