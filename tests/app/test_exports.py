"""AppTests of the static exports and the clustering choice: the paper figures from the explorer
and the Results page, charts as PNG through matplotlib, the clustering comparison panel and the
algorithm select box."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from apptest_kit import APP, TIMEOUT, ok, open_page  # noqa: F401
from repcam_app import state

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"






def download_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.get("download_button")}


def test_clustering_compare_panel_scores_every_algorithm_against_the_families(app_env):
    at = open_page("clustering")
    ok(at)
    at.text_input(key=state.CMP_SEEDS).set_value("0,1,2").run()
    at.button(key=state.CMP_BUTTON).click().run()
    ok(at)
    table = next(df.value for df in at.dataframe if "ARI" in df.value.columns)
    assert table["algorithm"].tolist() == ["improved-kmeans", "spectral", "agglomerative"]
    assert all("±" in v for v in table["ARI"]) and "silhouette" in table.columns
    result = at.session_state[state.CMP_RESULT]
    assert result["source"][2] == (0, 1, 2)
    assert result["json"]["truth"] == {"vehicles": ["bus", "car"], "animals": ["cat", "dog"],
                                       "furniture": ["chair", "sofa"]}
    assert {state.CMP_DL_CSV, state.CMP_DL_PNG} <= download_keys(at)
    at.text_input(key=state.CMP_SEEDS).set_value("zero").run()
    at.button(key=state.CMP_BUTTON).click().run()
    assert not at.exception and at.error and "comma-separated integers" in at.error[0].value


def test_algorithm_select_box_feeds_the_clusters_and_the_cache_keys(app_env):
    from repcam_testing import tiny_config
    from repcam_core.method.clusterers import cluster_classes
    from repcam_core.running.pipeline import Pipeline

    at = open_page("clustering")
    ok(at)
    at.selectbox(key=state.CLUSTERING).set_value("agglomerative").run()
    ok(at)
    cfg = tiny_config(clustering="agglomerative")
    B = Pipeline(cfg, cache=app_env["REPCAM_CACHE"]).similarity()
    expected = cluster_classes("agglomerative", B, cfg.n_clusters, cfg.min_cluster_size, cfg.seed,
                               cfg.cluster_restarts).labels
    assert at.session_state[state.CLUSTER_SOURCE][0] == "agglomerative"
    assert at.session_state[state.CLUSTER_LABELS] == expected.tolist()
    # the app's configuration now carries the algorithm: S-k results cached for the improved k-means
    # are not shown for it, results that do not depend on the clustering are
    at.switch_page("app_pages/results.py").run()
    ok(at)
    modes = at.dataframe[0].value.index.tolist()
    assert "Baseline" in modes and "S-1+A+F" not in modes


def test_explorer_offers_the_paper_figure_of_its_image_without_a_model_call(app_env, monkeypatch):
    at = open_page("explorer", **{state.EX_CLASS: "car"})
    ok(at)
    reps = at.multiselect(key=state.EX_REPS).value
    from repcam_core.running import explore

    monkeypatch.setattr(explore, "_maps", lambda *a, **k: pytest.fail("a model was called"))
    at.selectbox(key=state.EX_FIG).set_value("fig5").run()
    assert not (set(state.EX_FIG_DL.values()) & download_keys(at))  # nothing prepared yet
    at.button(key=state.EX_FIG_BUTTON).click().run()
    ok(at)
    files = at.session_state[state.EX_FIG_FILES]
    assert files["pdf"].startswith(b"%PDF") and files["png"].startswith(PNG)
    png = Image.open(io.BytesIO(files["png"]))
    assert png.size[0] == round(7.16 * 300)
    assert np.asarray(png.convert("L"), float).std() > 20
    assert set(state.EX_FIG_DL.values()) <= download_keys(at)
    assert files["stem"] == "fig5-car" and len(reps) >= 2
    at.multiselect(key=state.EX_REPS).set_value(reps[:1]).run()  # another choice: the old files are not offered
    ok(at)
    assert not (set(state.EX_FIG_DL.values()) & download_keys(at))


def test_results_page_exports_charts_and_paper_figures_through_matplotlib(app_env):
    from repcam_app.jobs import registry

    at = open_page("results")
    ok(at)
    assert "dl_ablation_png" in download_keys(at)
    at.button(key=state.RES_CHARTS_BUTTON).click().run()
    ok(at)
    charts = at.session_state[state.RES_CHARTS]
    assert set(charts) == {"for", "ablation", "per_class", "threshold", "table1"}
    for name in ("ablation", "per_class", "threshold", "table1"):
        assert charts[name].startswith(PNG) and f"dl_chart_{name}_png" in download_keys(at)
    table1 = Image.open(io.BytesIO(charts["table1"]))
    assert table1.size[0] > 1000 and np.asarray(table1.convert("L"), float).std() > 20

    at.selectbox(key=state.RES_FIG).set_value("fig7")
    at.selectbox(key=state.RES_FIG_CLASS).set_value("sofa")
    at.number_input(key=state.RES_FIG_IMAGES).set_value(2)
    at.button(key=state.RES_FIG_BUTTON).click().run()
    registry().wait(300)
    at.run()
    ok(at)
    files = at.session_state[state.RES_FIG_FILES]
    assert files["stem"] == "fig7-sofa" and files["pdf"].startswith(b"%PDF") and files["png"].startswith(PNG)
    assert set(state.RES_FIG_DL.values()) <= download_keys(at)
