"""RepCAM web app: ``streamlit run app.py`` (the embedded default unless REPCAM_APP_CONFIG says otherwise).

Operator settings (access token, dataset list, job cap, read-only demo) are in repcam_app/settings.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see repcam_core.cli.quiet_threads

import streamlit as st  # noqa: E402

st.set_page_config(page_title="RepCAM", page_icon=":material/local_fire_department:", layout="wide")

from pathlib import Path  # noqa: E402

from repcam_app import settings, state  # noqa: E402  (after set_page_config)
from repcam_app.access import gate_open, token_gate  # noqa: E402
from repcam_app.warmup import warm_up_base  # noqa: E402
from repcam_app.datasets import label_of  # noqa: E402
from repcam_app.resources import base_config, dataset_list  # noqa: E402

st.logo(str(Path(__file__).parent / "assets" / "logo.svg"))

PAGES = [
    st.Page("app_pages/home.py", title="Home / pipeline", icon=":material/home:", default=True),
    st.Page("app_pages/similarity.py", title="Similarity", icon=":material/grid_on:", url_path="similarity"),
    st.Page("app_pages/clustering.py", title="Clustering & selection", icon=":material/hub:", url_path="clustering"),
    st.Page("app_pages/explorer.py", title="CAM explorer", icon=":material/image_search:", url_path="explorer"),
    st.Page("app_pages/results.py", title="Results", icon=":material/bar_chart:", url_path="results"),
]

nav = st.navigation(PAGES, position="sidebar" if gate_open() else "hidden")
token_gate()  # every page: nothing below runs before the session has entered $REPCAM_APP_TOKEN
state.init(base_config())
dataset = st.session_state[state.DATASET]
with st.sidebar:
    st.caption(f"dataset **{label_of(dataset, dataset_list()) if settings.exposed() else dataset}** · preset "
               f"**{st.session_state[state.PRESET]}** · backbone "
               f"**{st.session_state[state.BACKBONE]}** · device **{st.session_state[state.DEVICE]}**")
    if settings.read_only():
        st.caption("Read-only demo: nothing is trained on this server.")
    st.caption("Representative-class CAM: fused maps of a few binary models chosen by class similarity.")
if gate_open():  # the explorer's first maps train in the background (repcam_app/warmup.py)
    warm_up_base()
nav.run()
