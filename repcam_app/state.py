"""Every ``st.session_state`` key the app uses, in one place, with its default.

Pages call :func:`init` first, then read/write ``st.session_state[KEY]`` through these names.
Widget keys (``key=`` of a widget) are listed too so tests can click them by a stable name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:
    from repcam_core.running.config import RunConfig

# --- configuration chosen on the Home page (the base comes from REPCAM_APP_CONFIG)
DATASET = "cfg_dataset"          # a dataset spec: "embedded", DIR or voc:DIR, pets:DIR, coco:DIR
BACKBONE = "cfg_backbone"
DEVICE = "cfg_device"            # auto / cpu / cuda
PRESET = "cfg_preset"            # embedded / paper / photos (repcam_app/presets.py)
CLUSTERING = "cfg_clustering"    # clustering algorithm feeding S-k (chosen on the Clustering page)

# --- clustering & selection page
KM_N = "km_n"
KM_SEED = "km_seed"
KM_MIN = "km_min_size"
KM_FOR = "km_for"                     # class names KM_N / KM_MIN were defaulted for (reset on another dataset)
CLUSTER_LABELS = "cluster_labels"     # list[int] [C]: current clusters (k-means + manual moves)
CLUSTER_SOURCE = "cluster_source"     # (algorithm, N, seed, min, B's identity) the labels were computed from
MOVE_CLASS = "move_class"
MOVE_TO = "move_to"
MOVE_BUTTON = "move_button"
RULE = "sel_rule"                     # Random / Rank-a / Rank-b / S-k
RULE_K = "sel_k"
CMP_SEEDS = "cmp_seeds"               # seeds of the clustering comparison, "0,1,2,3,4"
CMP_BUTTON = "cmp_run"
CMP_RESULT = "cmp_result"             # {"source": (N, min, seeds), "header": [...], "rows": [[...]], "json": {...}}
CMP_DL_CSV = "dl_cmp_csv"
CMP_DL_PNG = "dl_cmp_png"

# --- similarity page
SIM_NORMALISE = "sim_normalise"
SIM_ORDER = "sim_order_by_cluster"
SIM_CLASS = "sim_class"

# --- CAM explorer
EX_CLASS = "ex_class"
EX_IMAGE = "ex_image"                 # index into the class's evaluation images
EX_UPLOAD = "ex_upload"
EX_REPS = "ex_reps"                   # chosen representative classes (class names)
EX_REPS_FOR = "ex_reps_for"           # (target class, B available) EX_REPS was chosen for
EX_LAYERS = "ex_layers"               # chosen layer names
EX_THRESHOLD = "ex_threshold"
EX_MULTILAYER = "ex_multilayer"
EX_PAIR = "ex_pair_class"             # the binary model shown layer by layer (Fig. 6)
EX_SOURCE = "ex_source"               # "binary" (the paper's binary models) or "contrast" (training-free)
EX_THR_MODE = "ex_threshold_mode"     # "slider", "fixed" or "calibrated" (of the shown mode)
EXPLANATIONS = "explanations"         # (config key, image key, target) -> ImageExplanation
EX_LAST = "ex_last"                   # {"iou": float|None, "fused_sum": float} for tests
EX_FIG = "ex_figure"                  # paper figure of the current image: fig1 / fig5 / fig6 / fig7
EX_FIG_WIDTH = "ex_figure_width"      # single / double
EX_FIG_BUTTON = "ex_figure_prepare"
EX_FIG_FILES = "ex_figure_files"      # {"for": what it shows, "stem": str, "pdf": bytes, "png": bytes}
EX_FIG_DL = {"pdf": "dl_ex_figure_pdf", "png": "dl_ex_figure_png"}

# --- results page
RES_MODES = "res_modes"
RES_CURVE_MODES = "res_curve_modes"
RES_CLASS_MODE = "res_class_mode"
RES_PROTOCOL = "res_protocol"         # fixed / calibrated / auc
RES_CHARTS_BUTTON = "res_png"         # prepare every chart as PNG
RES_CHARTS = "res_chart_pngs"         # {"for": what they show, name: PNG bytes}
RES_FIG = "res_figure"                # paper figure: fig1 / fig5 / fig6 / fig7
RES_FIG_CLASS = "res_figure_class"
RES_FIG_IMAGES = "res_figure_images"  # number of the class's validation images (rows)
RES_FIG_MODE = "res_figure_mode"
RES_FIG_WIDTH = "res_figure_width"
RES_FIG_BUTTON = "res_figure_prepare"
RES_FIG_FILES = "res_figure_files"    # {"for": job name, "stem": str, "pdf": bytes, "png": bytes}
RES_FIG_DL = {"pdf": "dl_res_figure_pdf", "png": "dl_res_figure_png"}

# --- access and limits (a demo served to others; see repcam_app/settings.py)
TOKEN_INPUT = "access_token"          # the access-token field (only drawn while the gate is closed)
TOKEN_OK = "access_granted"           # True once this session entered $REPCAM_APP_TOKEN
UPLOADS_SEEN = "uploads_seen"         # {file id: time admitted} for the per-session upload limit

_DEFAULTS: dict[str, Any] = {
    CLUSTER_LABELS: None,
    CLUSTER_SOURCE: None,
    EXPLANATIONS: {},
    EX_LAST: {},
    SIM_NORMALISE: False,
    SIM_ORDER: True,
    EX_MULTILAYER: True,
    EX_SOURCE: "binary",
    EX_THR_MODE: "slider",
    CMP_RESULT: None,
    EX_FIG_FILES: None,
    RES_CHARTS: None,
    RES_FIG_FILES: None,
}


PERSISTENT = (DATASET, BACKBONE, DEVICE, PRESET, KM_N, KM_SEED, KM_MIN, RULE, RULE_K, SIM_NORMALISE, SIM_ORDER,
              SIM_CLASS, EX_CLASS, EX_IMAGE, EX_REPS, EX_LAYERS, EX_THRESHOLD, EX_MULTILAYER, EX_PAIR,
              EX_SOURCE, EX_THR_MODE,
              RES_MODES, RES_CURVE_MODES, RES_CLASS_MODE, RES_PROTOCOL,
              CLUSTERING, CMP_SEEDS, EX_FIG, EX_FIG_WIDTH, RES_FIG, RES_FIG_CLASS, RES_FIG_IMAGES, RES_FIG_MODE,
              RES_FIG_WIDTH)
"""Widget keys whose value must survive a visit to another page."""


def init(base: RunConfig) -> None:
    """Give every non-widget key its default once per session; config keys from ``base`` (the
    app's base configuration, :func:`repcam_app.resources.base_config`).

    Streamlit forgets a widget's key when a run does not draw that widget (another page is shown);
    re-assigning the value turns it into plain session state, so choices survive page changes.
    """
    defaults = {DATASET: base.dataset, BACKBONE: base.backbone, DEVICE: base.device, PRESET: base.preset,
                CLUSTERING: base.clustering,
                **_DEFAULTS}
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict) else value
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
