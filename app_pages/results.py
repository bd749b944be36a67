"""Results: the ablation table (modes x backbones) under a chosen protocol (fixed, calibrated,
AUC) with 95 % intervals, the paired comparison with the Baseline, Table 1 as a heatmap, per-class
bars, the mIoU-vs-threshold curve with the calibrated thresholds, the paper's figures, and
CSV/PNG/PDF downloads. Reads the cache (per-mode protocol values are cached too); computes only on
a button (PNG exports are drawn with matplotlib by the core, no browser needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from repcam_app import settings, state
from repcam_app.exports import downloads, figure_files, png, table_png
from repcam_app.figures import ablation_bars, pairwise_heatmap, per_class_bars, threshold_curves
from repcam_app.jobs import registry
from repcam_app.offload import results_job
from repcam_app.resources import base_config, config_key, guard
from repcam_app.widgets import READ_ONLY_NOTE, baseline_job, install_shipped, page_pipeline, progress_panel, submit
from repcam_core.running.experiment import Experiment
from repcam_core.figures import WIDTHS, charts
from repcam_core.figures.paper import PAPER_FIGURES, build
from repcam_core.running.explore import cached_pairwise
from repcam_core.method.modes import DEFAULT_MODES, parse_mode
from repcam_core.models.backbones import BACKBONES
from repcam_core.evaluation.percent import fmt
from repcam_core.running.pipeline import Pipeline
from repcam_core.evaluation.tables import pairwise_table_csv

st.title("Results")
state.init(base_config())
p = page_pipeline()
cfg, names, ss = p.config, list(p.class_names), st.session_state
CANDIDATES = list(dict.fromkeys([*DEFAULT_MODES, "All+A"]))
PROTOCOL_LABELS = {"fixed": f"fixed threshold {cfg.threshold}", "calibrated": "calibrated threshold",
                   "auc": "AUC (threshold-free)"}

install_shipped(p)  # the shipped model when it matches: the Baseline below needs nothing trained
with guard():
    by_backbone = {}
    for b in BACKBONES.names():
        pl = p if b == cfg.backbone else Pipeline(cfg.with_(backbone=b), p.cache)
        found = Experiment(pl).cached(CANDIDATES)
        # the reference maps need no model: another backbone is a column only with a mode of its own
        if found is not None and (b == cfg.backbone or any(parse_mode(m).needs_model for m in found.modes)):
            by_backbone[b] = found
    mine = by_backbone.get(cfg.backbone)
    plan = Experiment(p).plan(DEFAULT_MODES, optional=DEFAULT_MODES)  # what this dataset can run
    valid = [m.name for m in plan.modes]

with st.expander("Evaluate more modes for this configuration", expanded=mine is None):
    # the default through session state (the key persists across pages: a default= beside it is
    # ignored and makes Streamlit log a warning on every visit)
    ss[state.RES_MODES] = [m for m in ss.get(state.RES_MODES, ["Baseline", "S-1+A+F"]) if m in valid]
    chosen = st.multiselect("Modes", valid, key=state.RES_MODES)
    if plan.not_run:
        st.caption("Not offered on this dataset: " + "; ".join(f"{m} ({why})" for m, why in plan.not_run.items()))
    if settings.read_only():
        st.caption(READ_ONLY_NOTE)
    if st.button("Evaluate", key="res_run", disabled=settings.read_only() or not chosen):
        job = submit(p, *results_job(p, chosen))
        progress_panel([job])

if not by_backbone:
    job = baseline_job(p)  # the multi-class model is there: its Baseline is seconds of work
    if job is not None:
        st.info("Evaluating the Baseline (Grad-CAM of the multi-class model) under the three protocols in the "
                "background; this page shows it as soon as it is there. Evaluate more modes above.")
        progress_panel([job])
    else:
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
table = {b: {m: entries[b][m]["miou"] for m in r.modes} for b, r in by_backbone.items()}
intervals = {b: {m: entries[b][m]["ci"] for m in r.modes} for b, r in by_backbone.items()}

st.subheader(f"Ablation: mIoU (%) — modes × backbones · {PROTOCOL_LABELS[proto]}")
order = [m for m in CANDIDATES if any(m in t for t in table.values())]
df = pd.DataFrame(table).reindex(order)
ci_df = pd.DataFrame({f"{b} 95% CI": {m: "—" if v[0] is None else f"[{fmt(v[0])}, {fmt(v[1])}]" for m, v in iv.items()}
                      for b, iv in intervals.items()}).reindex(order)
st.dataframe(pd.concat([df, ci_df], axis=1).style.format(lambda v: fmt(v, missing="—"), subset=list(df.columns)),
             key="res_table")
st.plotly_chart(ablation_bars(table, intervals, f"mIoU (%) per mode · {PROTOCOL_LABELS[proto]} · 95 % intervals"),
                key="res_ablation")
if mine is not None and (mine.adapted or any(r.widths for r in mine.modes.values())):
    notes = " ".join(n.removeprefix("note: ") + "." for n in mine.notes(not_run=False))
    st.caption("Ref-Whole / Ref-Centre need no model (the whole image; a centred Gaussian whose width is chosen "
               "on the calibration split). " + notes)
d1, d2 = st.columns(2)
d1.download_button("Ablation table (CSV)", pd.concat([df, ci_df], axis=1).to_csv(), f"ablation_{proto}.csv",
                   "text/csv", key="dl_ablation_csv")
d2.download_button("Ablation table (PNG)", table_png(["mode", *df.columns], [[i, *[
    fmt(v, missing="—") for v in row]] for i, row in df.iterrows()]),
    f"ablation_{proto}.png", "image/png", key="dl_ablation_png")

if mine is None:
    st.info(f"No evaluated mode for backbone {cfg.backbone}; per-class charts need one.")
    st.stop()
vs = mine.protocols["vs_baseline"][proto]
st.subheader(f"Against the Baseline — {cfg.backbone} · {PROTOCOL_LABELS[proto]}")
if vs:
    st.caption("Paired bootstrap over the same resampled evaluation images: the difference in points, its 95 % "
               "interval, and the share of resamples in which the mode beats the Baseline.")
    st.dataframe(pd.DataFrame({"mode": list(vs), "diff (pts)": [v["diff"] for v in vs.values()],
                               "95% CI": ["—" if v["ci"][0] is None else f"[{fmt(v['ci'][0], True)}, {fmt(v['ci'][1], True)}]"
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
modes_res = mine.modes
with guard():
    pairwise = cached_pairwise(Experiment(p))
extra = {label: modes_res[m].per_class for m, label in (("Top1", "Top1"), ("Top2", "Top2"), ("Top3", "Top3"),
                                                        ("Top4", "Top4"), ("All", "All"), ("Baseline", "Grad-CAM"))
         if m in modes_res}

charts_for = (proto, tuple(sorted(table.items(), key=str)), tuple(sel), pairwise is not None)
if st.button("Prepare the charts as PNG", key=state.RES_CHARTS_BUTTON):
    with st.spinner("Drawing the charts…"):
        shown_table = {b: {m: (np.nan if v is None else v) for m, v in t.items()} for b, t in table.items()}
        pngs = {"ablation": png(charts.ablation_figure(shown_table)),
                "per_class": png(charts.per_class_figure(names, {m: modes_res[m].per_class for m in sel})),
                "threshold": png(charts.threshold_figure({m: (modes_res[m].thresholds, modes_res[m].iou)
                                                          for m in sel}, cfg.threshold))}
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
fig_modes = ([m for m in valid if parse_mode(m).kind not in ("baseline", "topk", "all", "reference")]
             or ["S-1+A+F"])
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


if st.button("Prepare figure", key=state.RES_FIG_BUTTON, disabled=settings.read_only()):
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
st.download_button("Table 1 (CSV)", pairwise_table_csv(names, pairwise["single"], mine), "table1.csv",
                   "text/csv", key="dl_pairwise_csv")
