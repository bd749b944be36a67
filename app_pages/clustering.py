"""Clustering & selection: the chosen algorithm live, manual moves, the representative classes, and
a comparison of the clustering algorithms (computed on a click; no model call once B exists)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from repcam_app import state
from repcam_app.figures import similarity_heatmap
from repcam_app.resources import base_config, guard
from repcam_app.exports import table_png
from repcam_app.widgets import b_identity, current_rule, page_pipeline, require_similarity, shown_rule
from repcam_core.running.experiment import Experiment
from repcam_core.running.explore import cached_pairwise, expected_iou, topk_oracle
from repcam_core.method.cluster_compare import compare_pipeline, parse_seeds
from repcam_core.method.clusterers import CLUSTERINGS, cluster_classes, smallest_cluster
from repcam_core.method.clustering import reorder_by_clusters
from repcam_core.method.feasibility import cluster_sizes, random_count
from repcam_core.method.modes import comparison_classes, parse_mode
from repcam_core.evaluation.percent import pct, pct_fmt

st.title("Clustering & representative-class selection")
state.init(base_config())
p = page_pipeline()
B = require_similarity(p)
names, C, cfg = list(p.class_names), p.num_classes, p.config
ss = st.session_state
n_start = min(cfg.n_clusters, C)  # N > C clusters cannot exist (3 breeds): start from C, S-k is not run
min_size = cluster_sizes(n_start, cfg.min_cluster_size, C)[1]  # as runs adapt it
if ss.get(state.KM_FOR) != names:  # another dataset: N and the minimum start from its own defaults
    for key in (state.KM_N, state.KM_MIN):
        ss.pop(key, None)
    ss[state.KM_FOR] = names
for key, default in ((state.KM_N, n_start), (state.KM_SEED, cfg.seed), (state.KM_MIN, min_size),
                     (state.RULE, "S-k"), (state.RULE_K, 1), (state.CMP_SEEDS, "0,1,2,3,4")):
    ss.setdefault(key, default)
ss[state.RULE_K] = min(int(ss[state.RULE_K]), max(1, C - 1))  # a k chosen on a dataset with more classes

c0, c1, c2, c3 = st.columns(4)
c0.selectbox("Algorithm", CLUSTERINGS.names(), key=state.CLUSTERING,
             help="clusters B for S-k here, in the explorer and in the Results page's evaluations")
c1.number_input("Clusters N", min_value=1, step=1, key=state.KM_N)
c2.number_input("Seed", min_value=0, step=1, key=state.KM_SEED)
c3.number_input("Minimum cluster size", min_value=1, step=1, key=state.KM_MIN,
                help="kept by the improved k-means only; spectral and agglomerative clusters may be smaller")
algo = cfg.clustering
source = (algo, int(ss[state.KM_N]), int(ss[state.KM_SEED]), int(ss[state.KM_MIN]), b_identity(p))
if ss[state.CLUSTER_SOURCE] != source or ss[state.CLUSTER_LABELS] is None or len(ss[state.CLUSTER_LABELS]) != C:
    with guard():
        res = cluster_classes(algo, B, source[1], min_size=source[3], seed=source[2], n_init=cfg.cluster_restarts)
    ss[state.CLUSTER_LABELS], ss[state.CLUSTER_SOURCE] = res.labels.tolist(), source
    if algo == "improved-kmeans":
        st.caption(f"improved k-means: {res.iterations} passes, {res.moves} moves, "
                   f"{'converged' if res.converged else 'stopped at max_iter'}")
    elif smallest_cluster(res.labels, source[1]) < source[3]:
        st.warning(f"{algo}: a cluster has {smallest_cluster(res.labels, source[1])} class(es), fewer than the "
                   f"minimum {source[3]} (only the improved k-means enforces it)")
labels = np.asarray(ss[state.CLUSTER_LABELS])
n_groups = max(int(labels.max()) + 1, source[1])

st.subheader("Clusters")
st.dataframe(pd.DataFrame({"cluster": [f"cluster {g}" for g in range(n_groups)],
                           "classes": [", ".join(names[i] for i in np.flatnonzero(labels == g)) or "(empty)"
                                       for g in range(n_groups)]}), hide_index=True)


def move() -> None:
    i = names.index(ss[state.MOVE_CLASS])
    new = list(ss[state.CLUSTER_LABELS])
    new[i] = int(ss[state.MOVE_TO])
    ss[state.CLUSTER_LABELS] = new


m1, m2, m3 = st.columns([2, 2, 1])
m1.selectbox("Move class", names, key=state.MOVE_CLASS)
m2.selectbox("to cluster", list(range(n_groups)), key=state.MOVE_TO)
m3.button("Move", key=state.MOVE_BUTTON, on_click=move)
st.plotly_chart(similarity_heatmap(B, names, order=reorder_by_clusters(labels), normalise=True, labels=labels,
                                   title="B (rows normalised) ordered by cluster"), key="cl_heatmap")

st.subheader("Representative classes of every target class")
r1, r2 = st.columns(2)
r1.selectbox("Selection rule", ["S-k", "Random", "Rank-a", "Rank-b"], key=state.RULE,
             help="S-k: the k-th most similar class of every cluster; Rank-a/b: fixed positions of the "
                  "similarity order (3, 9, 14, 17) / (3, 8, 13, 18); Random: a seeded random draw")
r2.number_input("k (S-k)", min_value=1, max_value=max(1, C - 1), step=1, key=state.RULE_K,
                disabled=ss[state.RULE] != "S-k")
with guard():
    rule, rule_note = shown_rule(p)  # Rank-a where the dataset refuses the chosen rule (S-k on 3 breeds)
if rule != current_rule():
    st.info(rule_note)
elif rule_note:
    st.caption(f"{rule}: {rule_note}")
mode = Experiment(p).adapted(parse_mode(f"{rule}+A+F"))  # Rank's positions scaled to C classes
with guard():
    comps = {c: comparison_classes(mode, c, B=B, cluster_labels=labels, num_classes=C,
                                   n=random_count(cfg.n_random, C), seed=cfg.seed) for c in range(C)}
    pairwise = cached_pairwise(Experiment(p))
rows = {"target": names, "representatives": [", ".join(names[j] for j in comps[c]) for c in range(C)]}
if pairwise is not None:
    P = pairwise["single"]
    oracle = [topk_oracle(P, c, max(1, len(comps[c]))) for c in range(C)]
    expected = np.array([expected_iou(P, c, comps[c]) for c in range(C)], float)  # fractions, unrounded
    best = np.array([o[1] for o in oracle], float)
    rows["expected IoU %"] = [pct(v) for v in expected]
    rows["Top-k oracle %"] = [pct(v) for v in best]
    rows["Top-k classes"] = [", ".join(names[j] for j in o[0]) for o in oracle]
    st.metric(f"{mode.name}: mean expected IoU", pct_fmt(np.nanmean(expected)) + "%",
              delta=f"{pct_fmt(np.nanmean(expected) - np.nanmean(best), signed=True)} vs Top-k oracle")
else:
    st.info("The pairwise table (every binary model alone) is not in the cache, so expected IoUs are not "
            "shown; compute it on the Home page.")
st.dataframe(pd.DataFrame(rows), hide_index=True, key="cl_table")

st.subheader("Compare the clustering algorithms")
st.caption("Each algorithm clusters B into N clusters once per seed; mean ± sd over the seeds of the within-cluster "
           "similarity (the improved k-means' objective), the silhouette on 1 - normalised similarity, and, where "
           "the dataset records its true families (the embedded world does), ARI and NMI against them.")
k1, k2 = st.columns([3, 1])
k1.text_input("Seeds", key=state.CMP_SEEDS)
if k2.button("Compare", key=state.CMP_BUTTON):
    with guard():
        seeds = parse_seeds(ss[state.CMP_SEEDS])
        comp = compare_pipeline(p, seeds, source[1], source[3])
    header, rows = comp.table()
    ss[state.CMP_RESULT] = {"source": (source[1], source[3], tuple(seeds)), "header": header, "rows": rows,
                            "json": comp.to_json()}
result = ss[state.CMP_RESULT]
if result is not None:
    table = pd.DataFrame(result["rows"], columns=result["header"])
    n, m, seeds = result["source"]
    truth = result["json"]["truth"]
    st.dataframe(table, hide_index=True, key="cl_compare_table")
    st.caption(f"N = {n}, minimum size {m}, seeds {', '.join(map(str, seeds))}; true families: "
               + ("; ".join(f"{f}: {', '.join(c)}" for f, c in truth.items()) if truth else "unknown (no ARI/NMI)"))
    d1, d2 = st.columns(2)
    d1.download_button("Comparison (CSV)", table.to_csv(index=False), "clustering_comparison.csv", "text/csv",
                       key=state.CMP_DL_CSV)
    d2.download_button("Comparison (PNG)", table_png(result["header"], result["rows"]), "clustering_comparison.png",
                       "image/png", key=state.CMP_DL_PNG)
