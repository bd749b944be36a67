"""RepCAM web app: ``streamlit run app.py`` (the embedded default unless REPCAM_APP_CONFIG says otherwise)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="RepCAM", page_icon=":material/local_fire_department:", layout="wide")

from pathlib import Path  # noqa: E402

from repcam_app import state  # noqa: E402  (after set_page_config)

st.logo(str(Path(__file__).parent / "assets" / "logo.svg"))

state.init()

PAGES = [
    st.Page("app_pages/home.py", title="Home / pipeline", icon=":material/home:", default=True, url_path="home"),
    st.Page("app_pages/similarity.py", title="Similarity", icon=":material/grid_on:", url_path="similarity"),
    st.Page("app_pages/clustering.py", title="Clustering & selection", icon=":material/hub:", url_path="clustering"),
    st.Page("app_pages/explorer.py", title="CAM explorer", icon=":material/image_search:", url_path="explorer"),
    st.Page("app_pages/results.py", title="Results", icon=":material/bar_chart:", url_path="results"),
]

nav = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"dataset **{st.session_state[state.DATASET]}** · backbone **{st.session_state[state.BACKBONE]}** "
               f"· device **{st.session_state[state.DEVICE]}**")
    st.caption("Representative-class CAM: fused maps of a few binary models chosen by class similarity.")
nav.run()
