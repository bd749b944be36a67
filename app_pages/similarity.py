"""Similarity: the matrix B as an interactive heatmap and one class's ranked similar classes (Fig. 3)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from repcam_app import state
from repcam_app.figures import ranked_bar, similarity_heatmap
from repcam_app.resources import base_config
from repcam_app.widgets import page_pipeline, require_similarity, session_clusters
from repcam_core.method.clustering import reorder_by_clusters

st.title("Class similarity B")
state.init(base_config())
st.caption("B[i, j] sums, over the training images of class i, the probability the multi-class model "
           "gives to class j (eq. 2): the more it confuses i with j, the more similar they are.")

p = page_pipeline()
B = require_similarity(p)
names = list(p.class_names)

c1, c2 = st.columns(2)
c1.toggle("Normalise rows (divide by the off-diagonal row sum)", key=state.SIM_NORMALISE)
c2.toggle("Order classes by cluster", key=state.SIM_ORDER)

labels = session_clusters(p, B)
order = reorder_by_clusters(labels) if st.session_state[state.SIM_ORDER] and labels is not None else None
if st.session_state[state.SIM_ORDER] and labels is None:
    st.warning(f"No clustering for this configuration ({p.config.n_clusters} clusters need at least "
               f"{p.config.n_clusters} classes, the dataset has {len(names)}; choose N on the Clustering page); "
               "showing the original class order.")
fig = similarity_heatmap(B, names, order=order, normalise=st.session_state[state.SIM_NORMALISE],
                         labels=labels if order is not None else None)
st.plotly_chart(fig, key="sim_heatmap")

st.subheader("Most similar classes of one class (Fig. 3)")
if st.session_state.get(state.SIM_CLASS) not in names:
    st.session_state[state.SIM_CLASS] = names[0]
st.selectbox("Class", names, key=state.SIM_CLASS)
c = names.index(st.session_state[state.SIM_CLASS])
st.plotly_chart(ranked_bar(B, names, c, normalise=st.session_state[state.SIM_NORMALISE]), key="sim_ranked")
if labels is not None:
    st.caption("Cluster of each class: " + "; ".join(
        f"**{g}**: {', '.join(names[i] for i in np.flatnonzero(labels == g))}" for g in np.unique(labels)))
