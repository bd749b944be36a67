"""Home: choose dataset, preset, backbone and device; see what is cached; compute the rest in the background."""

from __future__ import annotations

import streamlit as st

from repcam_app import settings, state
from repcam_app.datasets import check_allowed
from repcam_app.jobs import registry
from repcam_app.offload import clustering_job, multiclass_job, results_job
from repcam_app.presets import PRESETS, preset_start, summary
from repcam_app.resources import base_config, cache_root, config_key, current_config, dataset_list, guard, pipeline
from repcam_app.widgets import READ_ONLY_NOTE, baseline_job, dataset_ready, install_shipped, progress_panel, submit
from repcam_core.errors import DatasetError
from repcam_core.running.experiment import Experiment
from repcam_core.running.explore import cached_pairwise
from repcam_core.method.modes import DEFAULT_MODES, parse_mode
from repcam_core.models.backbones import BACKBONES
from repcam_core.models.train import resolve_device

st.title("RepCAM — representative-class CAM")
state.init(base_config())
st.write("Class activation maps that fuse the Grad-CAMs of a few binary models, one per "
         "*representative class* chosen from class similarity, over several layers.")

c1, c0, c2, c3 = st.columns([3, 2, 2, 1])
if settings.exposed():  # listening beyond localhost: only the operator's datasets, by name
    choices = dataset_list()
    try:
        check_allowed(st.session_state[state.DATASET], choices)
    except DatasetError as exc:  # a stale or injected value: say so, fall back to the default
        st.error(str(exc))
        st.session_state[state.DATASET] = base_config().dataset
    labels = {c.spec: c.label for c in choices}
    c1.selectbox("Dataset", list(labels), key=state.DATASET, format_func=labels.get,
                 help="the datasets this server's operator offers")
else:
    c1.text_input("Dataset", key=state.DATASET, help="`embedded` (the generated default world), a VOC-layout "
                  "directory (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/) as `DIR` or `voc:DIR` "
                  "(e.g. MSRC-v2), an Oxford-IIIT Pet directory as `pets:DIR`, or COCO 2017 as `coco:DIR`")


def _preset_backbone() -> None:  # a preset brings its own backbone (still changeable after)
    st.session_state[state.BACKBONE] = preset_start(base_config(), st.session_state[state.PRESET]).backbone


c0.selectbox("Preset", PRESETS, key=state.PRESET, on_change=_preset_backbone,
             format_func=lambda n: f"{n} — {preset_start(base_config(), n).backbone}",
             help="photos: real photos with EfficientNet-Lite0's ImageNet weights at 224 px; embedded: the fast "
                  "defaults of the generated world; paper: the paper's protocol (sec. 4.2)")
c2.selectbox("Backbone", BACKBONES.names(), key=state.BACKBONE,
             format_func=lambda n: f"{n} — {BACKBONES.get(n).description}")
c3.selectbox("Device", ["auto", "cpu", "cuda"], key=state.DEVICE)

cfg = current_config()
st.caption(f"preset **{cfg.preset}**: {summary(cfg)}")
p = pipeline(cfg)
STEPS = ["multi-class model (Baseline, builds B)", "similarity matrix B", f"clustering ({cfg.clustering})",
         "binary models (one per class pair)", "pairwise table (Table 1)", "evaluated modes"]
if not dataset_ready(p):  # first start: the world is being generated; nothing can be cached for it yet
    st.subheader("What is computed for this configuration")
    st.table({"step": STEPS, "status": ["waiting for the dataset"] * len(STEPS)})
    st.stop()
shipped = install_shipped(p)  # the shipped model, B and clusters when they match (copied, not trained)
with guard():
    device = resolve_device(cfg.device)
    C = p.num_classes
    pairs = [(a, b) for a in range(C) for b in range(a + 1, C)]
    trained = sum(p.has_binary(a, b) for a, b in pairs)
    exp = Experiment(p)
    has = {
        "mc": p.cache.has("multiclass", p.multiclass_key()),
        "B": p.cache.has("similarity", p.similarity_key()),
        "clusters": (cfg.n_clusters <= C  # the sizes a run uses (a minimum too large for C is lowered)
                     and p.cache.has("clustering", p.clustering_key(*exp.cluster_sizes, cfg.seed))),
        "pairwise": cached_pairwise(exp) is not None,
    }
    modes = []
    for name in DEFAULT_MODES:
        try:
            exp.needs([parse_mode(name)])
            modes.append(name)
        except Exception:
            pass
    done_modes = [m for m in modes if p.cache.has("results", exp.mode_key(parse_mode(m)))]

st.caption(f"{C} classes: {', '.join(p.class_names)} · running on **{device}**"
           + ("" if settings.exposed() else f" · cache `{cache_root()}`"))


def tick(ok: bool, kind: str = "") -> str:
    return ("cached (shipped with RepCAM)" if kind in shipped else "cached") if ok else "not yet"


st.subheader("What is computed for this configuration")
st.table({
    "step": STEPS,
    "status": [tick(has["mc"], "multiclass"), tick(has["B"], "similarity"), tick(has["clusters"], "clustering"),
               f"{trained} / {len(pairs)} trained", tick(has["pairwise"]),
               f"{len(done_modes)} / {len(modes)}: {', '.join(done_modes) or '—'}"],
})

# What the multi-class model already gives (the shipped one, or the one trained here): the Baseline
st.subheader("The Baseline (Grad-CAM of the multi-class model) under the three protocols")
with guard():
    base = exp.cached(["Baseline"]) if "Baseline" in done_modes else None
if base is not None:
    entries = base.protocols["protocols"]
    labels = {"fixed": f"fixed threshold {cfg.threshold}", "calibrated": "calibrated threshold",
              "auc": "AUC (threshold-free)"}
    rows = [(labels[k], entries[k]["Baseline"]) for k in labels if "Baseline" in entries.get(k, {})]
    st.table({"protocol": [r[0] for r in rows], "mIoU (%)": [f"{e['miou']:.2f}" for _, e in rows],
              "95 % interval": ["—" if e["ci"][0] is None else f"[{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]"
                                for _, e in rows],
              "threshold": [f"{e['threshold']:.3f}" if e.get("threshold") is not None else "—" for _, e in rows]})
    st.caption(f"Over the {base.calibration.get('eval_split') or cfg.eval_split!r} images; the Results page "
               "compares the other modes with it.")
elif baseline_job(p) is not None:
    st.caption("Evaluating it in the background (once the explorer's first maps are trained, on a first start); "
               "its figures appear here when they are ready.")
else:
    st.caption("It is evaluated once the multi-class model is in the cache.")

st.subheader("Compute the rest")
read_only = settings.read_only()
st.caption(READ_ONLY_NOTE if read_only else "Work runs in the background (at most "
           f"{settings.max_jobs()} jobs at once on this server, the rest queue); leaving the page or "
           "opening a second tab does not start it twice.")
b1, b2, b3, b4 = st.columns(4)
if b1.button("Train multi-class model", key="home_mc", disabled=read_only or has["mc"]):
    submit(p, *multiclass_job(p))
if b2.button("B + clustering", key="home_sim", disabled=read_only or (has["B"] and has["clusters"])):
    submit(p, *clustering_job(p))


def train_all_binaries() -> int:
    with p.progress.task("binary models", len(pairs)) as step, p.sharing_features():  # each class's probe features once
        for a, b in pairs:
            p.binary_model(a, b)
            step(1)
    return len(pairs)


if b3.button(f"Train all {len(pairs)} binary models", key="home_bin",
             disabled=read_only or trained == len(pairs)):
    submit(p, "binaries", train_all_binaries, "all binary models")
if b4.button("Pairwise table", key="home_pairwise", disabled=read_only or has["pairwise"]):
    submit(p, "pairwise", lambda: Experiment(p).pairwise() and None, "pairwise table (all pairs)")

chosen = st.multiselect("Modes to evaluate", modes, default=[m for m in modes if m not in done_modes][:6],
                        key="home_modes")
if st.button("Evaluate the chosen modes", key="home_run", disabled=read_only or not chosen):
    submit(p, *results_job(p, chosen))

progress_panel(registry().jobs(config_key(cfg)))
