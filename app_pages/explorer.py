"""CAM explorer: one image's Baseline, each representative class's map, per-layer maps and the live
fused map. Maps are computed once per (image, class); toggles only fuse cached maps (no model call)."""

from __future__ import annotations

import hashlib

import streamlit as st

from repcam_app import state
from repcam_app.figures import overlay
from repcam_app.resources import config_key, guard, pipeline
from repcam_app.uploads import load_upload
from repcam_app.widgets import progress_panel, require_multiclass, representatives, submit
from repcam_core import explore
from repcam_core.errors import ImageError

st.title("CAM explorer")
state.init()
p = pipeline()
names, cfg, ss = list(p.class_names), p.config, st.session_state
require_multiclass(p)

top = st.columns([2, 2, 3])
if ss.get(state.EX_CLASS) not in names:
    ss[state.EX_CLASS] = names[0]
top[0].selectbox("Target class", names, key=state.EX_CLASS)
c = names.index(ss[state.EX_CLASS])
upload = top[2].file_uploader("…or upload your own image (≤ 20 MB, ≤ 40 megapixels)", key=state.EX_UPLOAD)
image = None
if upload is not None:  # a bad file gets its message; the page goes on with a validation image
    data = upload.getvalue()
    try:
        image, mask = load_upload(data, upload.name, cfg.image_size), None
        image_key = ("upload", hashlib.sha1(data).hexdigest())
    except ImageError as exc:
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

# Representative classes: defaults from the Clustering page's rule; reset when the target changes.
B = p.similarity() if p.cache.has("similarity", p.similarity_key()) else None
others = [n for n in names if n != names[c]]
if ss.get(state.EX_REPS_FOR) != c or any(r not in others for r in ss.get(state.EX_REPS) or []):
    ss[state.EX_REPS] = [names[j] for j in (representatives(p, B, c) if B is not None else [])]
    ss[state.EX_REPS_FOR] = c
ss.setdefault(state.EX_LAYERS, layer_names)
if any(n not in layer_names for n in ss[state.EX_LAYERS]):
    ss[state.EX_LAYERS] = layer_names
ss.setdefault(state.EX_THRESHOLD, float(cfg.threshold))

w = st.columns([3, 3, 2, 1])
w[0].multiselect("Representative classes", others, key=state.EX_REPS)
w[1].multiselect("Layers in the multi-layer sum", layer_names, key=state.EX_LAYERS)
w[2].slider("Threshold", 0.0, 1.0, step=0.01, key=state.EX_THRESHOLD)
w[3].toggle("+A", help="multi-layer map: sum of the chosen layers × last layer", key=state.EX_MULTILAYER)

reps = [names.index(n) for n in ss[state.EX_REPS]]
pending = []
with guard():
    for j in reps:
        if not explore.add_trained_comparison(p, expl, j):
            a, b = sorted((c, j))
            pending.append(submit(p, f"binary:{a}-{b}", lambda a=a, b=b: p.binary_model(a, b) and None,
                                  f"binary model {names[a]} vs {names[b]}", lane="interactive"))
ready = [j for j in reps if j in expl.per_class]
if pending:
    st.info(f"Training {len(pending)} binary model(s) on demand; the fused map uses the "
            f"{len(ready)} ready one(s) and updates as the others finish.")
    progress_panel(pending)

layers = [layer_names.index(n) for n in ss[state.EX_LAYERS]]
thr, multi = float(ss[state.EX_THRESHOLD]), bool(ss[state.EX_MULTILAYER])
gt = None if mask is None else (mask == c + 1).numpy()
baseline = explore.combine_layers(expl.baseline, multilayer=False)
fused = explore.fuse(expl, ready, layers, multi)
iou_base, iou_fused = explore.iou(baseline, mask, c, thr), explore.iou(fused, mask, c, thr)
ss[state.EX_LAST] = {"iou": iou_fused, "baseline_iou": iou_base, "fused_sum": float(fused.sum()), "ready": ready}

fmt = lambda v: "—" if v is None else f"{100 * v:.1f}%"  # noqa: E731
cols = st.columns(3)
cols[0].image(overlay(image, fused * 0, gt, alpha=0.0), caption="image (white: ground truth)")
cols[1].image(overlay(image, baseline, gt, threshold=thr), caption=f"Grad-CAM baseline · IoU {fmt(iou_base)}")
cols[2].image(overlay(image, fused, gt, threshold=thr),
              caption=f"fused over {len(ready)} class(es){' +A' if multi else ''} · IoU {fmt(iou_fused)}")
m = st.columns(3)
m[0].metric("IoU baseline", fmt(iou_base))
m[1].metric("IoU fused", fmt(iou_fused), delta=None if iou_base is None or iou_fused is None
            else f"{100 * (iou_fused - iou_base):+.1f} pts")
m[2].metric("classes fused", len(ready))

if ready:
    st.subheader("Map of each representative class (Fig. 5)")
    cols = st.columns(min(len(ready), 6))
    for k, j in enumerate(ready):
        cam = explore.combine_layers(expl.per_class[j], layers, multi)
        cols[k % len(cols)].image(overlay(image, cam, gt, threshold=thr), caption=f"{names[c]} vs {names[j]}")
    st.subheader("Per-layer maps of one binary model and their sum (Fig. 6)")
    if ss.get(state.EX_PAIR) not in [names[j] for j in ready]:
        ss[state.EX_PAIR] = names[ready[0]]
    st.selectbox("Binary model", [names[j] for j in ready], key=state.EX_PAIR,
                 format_func=lambda n: f"{names[c]} vs {n}")
    maps = expl.per_class[names.index(ss[state.EX_PAIR])]
    cols = st.columns(len(layer_names) + 1)
    for li, name in enumerate(layer_names):
        cols[li].image(overlay(image, maps[li], gt, size=128), caption=name)
    cols[-1].image(overlay(image, explore.combine_layers(maps, layers, True), gt, size=128),
                   caption="sum × last layer")
