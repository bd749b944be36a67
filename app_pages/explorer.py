"""CAM explorer: one image's Baseline, each representative class's map, per-layer maps and the live
fused map. Maps are computed once per (image, class); toggles only fuse cached maps (no model call),
and rerun only the part of the page they change (a fragment), not the whole page.
The threshold is the slider's, or the fixed (paper's) or calibrated one of the mode shown, the
latter read from that mode's cached evaluation (never computed here)."""

from __future__ import annotations

import hashlib
import time

import streamlit as st

from repcam_app import settings, state
from repcam_app.exports import downloads, figure_files
from repcam_app.figures import inline, overlay, strip
from repcam_app.offload import binary_job, similarity_job
from repcam_app.resources import base_config, config_key, guard
from repcam_app.uploads import UploadLimitError, admit_upload, load_upload
from repcam_app.widgets import (current_rule, page_pipeline, progress_panel, representatives, require_multiclass,
                               shown_rule, submit)
from repcam_core.running import explore
from repcam_core.running.experiment import Experiment
from repcam_core.figures import WIDTHS
from repcam_core.figures.inputs import from_explanation
from repcam_core.figures.paper import PAPER_FIGURES, draw
from repcam_core.errors import ImageError
from repcam_core.evaluation.percent import pct_fmt

PENDING_POLL_S = 0.5
"""How often the page looks at the binary models it waits for (it reruns once they are all there)."""

st.title("CAM explorer")
state.init(base_config())
p = page_pipeline()
names, cfg, ss = list(p.class_names), p.config, st.session_state
require_multiclass(p)

top = st.columns([2, 2, 3])
if ss.get(state.EX_CLASS) not in names:
    ss[state.EX_CLASS] = names[0]
top[0].selectbox("Target class", names, key=state.EX_CLASS)
c = names.index(ss[state.EX_CLASS])
upload = top[2].file_uploader("…or upload your own image (≤ 20 MB, ≤ 40 megapixels)", key=state.EX_UPLOAD)
image = None
if upload is not None:  # rate-limited per session (new files only); a bad file gets its message and the
    try:                # page goes on with a validation image
        admit_upload(ss.setdefault(state.UPLOADS_SEEN, {}), upload.file_id, settings.uploads_per_minute(),
                     time.monotonic())
        data = upload.getvalue()
        image, mask = load_upload(data, upload.name, cfg.image_size), None
        image_key = ("upload", hashlib.sha1(data).hexdigest())
    except (ImageError, UploadLimitError) as exc:
        st.error(f"{exc}. Showing a validation image instead.")
with guard():
    if image is None:
        idx = p.eval_indices(c).tolist()
        if not idx:
            st.warning(f"class {names[c]!r} has no validation image; upload one instead.")
            st.stop()
        if ss.get(state.EX_IMAGE) not in range(len(idx)):
            ss[state.EX_IMAGE] = 0
        top[1].selectbox("Validation image", range(len(idx)), key=state.EX_IMAGE,
                         format_func=lambda i: f"#{i} {p.eval_split.ids[idx[i]]}")
        image, mask = p.eval_split.images[idx[ss[state.EX_IMAGE]]], p.eval_split.masks[idx[ss[state.EX_IMAGE]]]
        image_key = ("val", idx[ss[state.EX_IMAGE]])
        st.image([img.permute(1, 2, 0).numpy() for img in p.eval_split.images[idx[:16]]], width=56,
                 caption=[f"#{i}" for i in range(min(16, len(idx)))])

cache = ss[state.EXPLANATIONS]
ekey = (config_key(cfg), image_key, c)
if ekey not in cache:
    with guard(), st.spinner("Computing the Baseline's per-layer maps…"):
        cache[ekey] = explore.explain_baseline(p, image, c, mask)
expl = cache[ekey]
layer_names = list(expl.layer_names)

# Representative classes: defaults from the Clustering page's rule; reset when the target changes
# and when B lands (it is computed in the background while the Baseline is already shown).
with guard():
    b_ready = p.cache.has("similarity", p.similarity_key())
    B = p.similarity() if b_ready else None
b_job = None
if B is None and not settings.read_only():
    b_job = submit(p, *similarity_job(p), lane="interactive")
others = [n for n in names if n != names[c]]
if ss.get(state.EX_REPS_FOR) != (c, B is not None) or any(r not in others for r in ss.get(state.EX_REPS) or []):
    ss[state.EX_REPS] = [names[j] for j in (representatives(p, B, c) if B is not None else [])]
    ss[state.EX_REPS_FOR] = (c, B is not None)
if b_job is not None:
    st.info("Computing B (the class similarity) to choose the representative classes; the Baseline is shown "
            "meanwhile and the fused map appears once B and their binary models are ready.")
    progress_panel([b_job])
elif B is None:
    st.warning("B is not in the cache (read-only demo): choose representative classes by hand.")

with guard():
    rule, rule_note = shown_rule(p)  # the Clustering page's rule, or Rank-a where the dataset refuses it
if rule != current_rule():
    st.info(rule_note)

# Everything below reruns alone when one of its widgets changes (a fragment: no full-page rerun).
# A toggle of a class, a layer, "+A", the source or the threshold fuses the cached per-layer maps
# again; a model is called only for a class newly chosen whose binary model is trained (its maps
# for this image) or missing (trained on demand in the background).
@st.fragment
def live() -> None:
    ss.setdefault(state.EX_LAYERS, layer_names)
    if any(n not in layer_names for n in ss[state.EX_LAYERS]):
        ss[state.EX_LAYERS] = layer_names
    ss.setdefault(state.EX_THRESHOLD, float(cfg.threshold))
    source, multi = ss[state.EX_SOURCE], bool(ss[state.EX_MULTILAYER])
    mode_name = explore.shown_mode(rule, multi, source, bool(ss[state.EX_REPS]))
    t_cal = None
    if ss[state.EX_THR_MODE] == "calibrated":  # read from the cache only when it is the threshold shown
        with guard():
            t_cal = explore.calibrated_threshold(Experiment(p), mode_name)
    t_choice = {"slider": None, "fixed": float(cfg.threshold), "calibrated": t_cal}[ss[state.EX_THR_MODE]]
    if t_choice is not None:
        ss[state.EX_THRESHOLD] = t_choice  # before the slider is drawn: it shows the protocol's threshold

    w = st.columns([3, 3, 2, 1])
    w[0].multiselect("Representative classes", others, key=state.EX_REPS)
    w[1].multiselect("Layers in the multi-layer sum", layer_names, key=state.EX_LAYERS)
    w[2].slider("Threshold", 0.0, 1.0, step=0.005, key=state.EX_THRESHOLD, disabled=t_choice is not None)
    w[3].toggle("+A", help="multi-layer map: sum of the chosen layers × last layer", key=state.EX_MULTILAYER)
    v = st.columns([2, 3])
    v[0].radio("Maps from", ["binary", "contrast"], key=state.EX_SOURCE, horizontal=True,
               format_func={"binary": "binary models (paper)", "contrast": "contrasts (no training)"}.get,
               help="contrast: the multi-class model's Grad-CAM of logit(target) - logit(class), no binary model")
    v[1].radio("Threshold from", ["slider", "fixed", "calibrated"], key=state.EX_THR_MODE, horizontal=True,
               format_func={"slider": "the slider", "fixed": f"fixed {cfg.threshold} (paper)",
                            "calibrated": f"calibrated for {mode_name}"}.get)
    if ss[state.EX_THR_MODE] == "calibrated" and t_cal is None:
        st.info(f"{mode_name} has no calibrated threshold in the cache yet (evaluate it on the Results page, or "
                "there is no calibration split); the slider's threshold is used.")

    reps = [names.index(n) for n in ss[state.EX_REPS]]
    pending, missing = [], []
    with guard():
        if source == "contrast":
            explore.add_contrasts(p, expl, reps)
        for j in reps if source == "binary" else []:
            if not explore.add_trained_comparison(p, expl, j):
                a, b = sorted((c, j))
                if settings.read_only():  # report, never train
                    missing.append(f"{names[a]} vs {names[b]}")
                    continue
                pending.append(submit(p, *binary_job(p, a, b), lane="interactive"))
    ready = [j for j in reps if j in explore.source_maps(expl, source)]
    if missing:
        st.warning(f"Binary model(s) {', '.join(missing)} not in the cache (read-only demo); the fused map uses "
                   f"the {len(ready)} cached one(s).")
    if pending:
        st.info(f"Training {len(pending)} binary model(s) on demand; the fused map uses the "
                f"{len(ready)} ready one(s) and updates as the others finish.")
        progress_panel(pending, poll=PENDING_POLL_S)

    layers = [layer_names.index(n) for n in ss[state.EX_LAYERS]]
    thr = float(ss[state.EX_THRESHOLD])
    gt = None if mask is None else (mask == c + 1).numpy()
    baseline = explore.combine_layers(expl.baseline, multilayer=False)
    fused = explore.fuse(expl, ready, layers, multi, source)
    iou_base, iou_fused = explore.iou(baseline, mask, c, thr), explore.iou(fused, mask, c, thr)
    if reps and not ready:  # nothing fused yet: no fused figure to report
        iou_fused = None
    ss[state.EX_LAST] = {"iou": iou_fused, "baseline_iou": iou_base, "fused_sum": float(fused.sum()), "ready": ready,
                         "threshold": thr, "mode": mode_name}

    fmt = lambda v: "—" if v is None else pct_fmt(v) + "%"  # noqa: E731
    cols = st.columns(3)
    cols[0].image(overlay(image, fused * 0, gt, alpha=0.0), caption="image (white: ground truth)")
    # the maps a toggle changes are drawn inline (figures.inline: no request per picture); the rest as images
    cols[1].html(inline(overlay(image, baseline, gt, threshold=thr), f"Grad-CAM baseline · IoU {fmt(iou_base)}"))
    if ready or not reps:  # a fused map over the ready classes, or the multi-class model's own (none chosen)
        what = f"fused over {len(ready)} class(es)" if ready else "no class chosen: the multi-class model's map"
        summed = f" · {len(layers)} of {len(layer_names)} layers" if multi else ""  # what "+A" sums
        cols[2].html(inline(overlay(image, fused, gt, threshold=thr),
                            f"{mode_name} · {what}{summed} · IoU {fmt(iou_fused)} at t={thr:.3f}"))
    else:
        cols[2].info(f"{mode_name}: waiting for the binary models of {len(reps)} representative class(es).")
    m = st.columns(3)
    m[0].metric("IoU baseline", fmt(iou_base))
    m[1].metric("IoU fused", fmt(iou_fused), delta=None if iou_base is None or iou_fused is None
                else f"{pct_fmt(iou_fused - iou_base, signed=True)} pts")
    m[2].metric("classes fused", len(ready))

    if ready:
        st.subheader("Map of each representative class (Fig. 5)")
        per_j = explore.source_maps(expl, source)
        for row in range(0, len(ready), 6):  # one picture per row of six: one request per toggle, not six
            part = ready[row:row + 6]
            st.html(inline(strip([overlay(image, explore.combine_layers(per_j[j], layers, multi), gt, threshold=thr)
                                  for j in part]), "   ·   ".join(f"{names[c]} vs {names[j]}" for j in part)))
        one = "contrast" if source == "contrast" else "binary model"
        st.subheader(f"Per-layer maps of one {one} and their sum (Fig. 6)")
        if ss.get(state.EX_PAIR) not in [names[j] for j in ready]:
            ss[state.EX_PAIR] = names[ready[0]]
        st.selectbox("Binary model", [names[j] for j in ready], key=state.EX_PAIR,
                     format_func=lambda n: f"{names[c]} vs {n}")
        maps = per_j[names.index(ss[state.EX_PAIR])]
        cols = st.columns(len(layer_names) + 1)
        for li, name in enumerate(layer_names):
            cols[li].image(overlay(image, maps[li], gt, size=128), caption=name)
        cols[-1].html(inline(overlay(image, explore.combine_layers(maps, layers, True), gt, size=128),
                             "sum × last layer"))

        # The paper's layouts of this image, drawn by the same core code as `repcam figure` from the
        # cached per-layer maps (no model call); rendered on the click, offered until a choice changes.
        st.subheader("Paper figures of this image (PDF / PNG)")
        ss.setdefault(state.EX_FIG_WIDTH, "double")
        f = st.columns([3, 1, 1])
        f[0].selectbox("Figure", PAPER_FIGURES.names(), key=state.EX_FIG,
                       format_func=lambda n: f"{n} — {PAPER_FIGURES.get(n).description}")
        f[1].selectbox("Width", list(WIDTHS), key=state.EX_FIG_WIDTH)
        pair = names.index(ss[state.EX_PAIR])
        shown = [pair, *[j for j in ready if j != pair]] if ss[state.EX_FIG] == "fig6" else ready
        what = (ss[state.EX_FIG], ss[state.EX_FIG_WIDTH], ekey, tuple(shown), tuple(layers), multi, source)
        if f[2].button("Prepare PDF + PNG", key=state.EX_FIG_BUTTON):
            label = "upload" if image_key[0] == "upload" else p.eval_split.ids[image_key[1]]
            with guard(), st.spinner("Drawing the figure…"):
                data = from_explanation(expl, names, shown, multi, layers, label=label, source=source)
                files = figure_files(draw(ss[state.EX_FIG], data, ss[state.EX_FIG_WIDTH]))
            ss[state.EX_FIG_FILES] = {"for": what, "stem": f"{ss[state.EX_FIG]}-{names[c]}", **files}
        done = ss[state.EX_FIG_FILES]
        if done is not None and done["for"] == what:
            downloads({fmt: done[fmt] for fmt in ("pdf", "png")}, done["stem"], state.EX_FIG_DL)


live()
