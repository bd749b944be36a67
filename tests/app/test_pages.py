"""AppTest per page on the tiny configuration: renders without exceptions, and the main
interactions change what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_kit import APP, TIMEOUT, ok, open_page  # noqa: F401
from repcam_app import state

pytestmark = pytest.mark.slow







def test_home_shows_cached_status(app_env):
    at = open_page("home")
    ok(at)
    status = at.table[0].value["status"].tolist()
    assert status[0] == "cached" and "15 / 15" in status[3]
    assert at.button(key="home_mc").disabled  # nothing to train again


def test_home_bad_dataset_path_is_an_error_message(app_env, tmp_path):
    at = open_page("home")
    at.text_input(key=state.DATASET).set_value(str(tmp_path / "not-voc")).run()
    assert not at.exception
    assert at.error and "not-voc" in at.error[0].value


def test_similarity_page_toggles(app_env):
    at = open_page("similarity")
    ok(at)
    assert len(at.get("plotly_chart")) == 2
    before = at.get("plotly_chart")[0].proto.spec
    at.toggle(key=state.SIM_NORMALISE).set_value(True).run()
    ok(at)
    assert at.get("plotly_chart")[0].proto.spec != before
    at.selectbox(key=state.SIM_CLASS).set_value("sofa").run()
    ok(at)
    assert "sofa" in at.get("plotly_chart")[1].proto.spec


def test_clustering_rerun_and_move(app_env):
    at = open_page("clustering")
    ok(at)
    first = list(at.session_state[state.CLUSTER_LABELS])
    seen = {tuple(first)}
    for seed in range(1, 6):  # another seed or N changes the clusters
        at.number_input(key=state.KM_SEED).set_value(seed).run()
        ok(at)
        seen.add(tuple(at.session_state[state.CLUSTER_LABELS]))
    at.number_input(key=state.KM_N).set_value(2).run()
    ok(at)
    seen.add(tuple(at.session_state[state.CLUSTER_LABELS]))
    assert len(seen) > 1
    assert max(at.session_state[state.CLUSTER_LABELS]) == 1
    # move a class by hand
    labels = list(at.session_state[state.CLUSTER_LABELS])
    name = "bus"
    target = 1 - labels[0]
    at.selectbox(key=state.MOVE_CLASS).set_value(name)
    at.selectbox(key=state.MOVE_TO).set_value(target)
    at.button(key=state.MOVE_BUTTON).click().run()
    ok(at)
    assert at.session_state[state.CLUSTER_LABELS][0] == target
    # the pairwise table is cached: expected IoU next to the Top-k oracle
    df = at.dataframe[-1].value
    assert {"expected IoU %", "Top-k oracle %"} <= set(df.columns)


def test_clustering_impossible_n_is_an_error_message(app_env):
    at = open_page("clustering")
    at.number_input(key=state.KM_N).set_value(7).run()  # 6 classes
    assert not at.exception
    assert at.error and "clusters" in at.error[0].value


def test_selection_rules(app_env):
    at = open_page("clustering")
    at.selectbox(key=state.RULE).set_value("Random").run()
    ok(at)
    reps_random = at.dataframe[-1].value["representatives"].tolist()
    at.selectbox(key=state.RULE).set_value("S-k").run()
    at.number_input(key=state.RULE_K).set_value(2).run()
    ok(at)
    assert at.dataframe[-1].value["representatives"].tolist() != reps_random
    at.selectbox(key=state.RULE).set_value("Rank-a").run()  # positions 3, 9, 14, 17 scaled to 1, 2, 4 of 5 others
    ok(at)
    assert [len(r.split(", ")) for r in at.dataframe[-1].value["representatives"]] == [3] * 6


def test_explorer_toggles_change_fused_map_without_model_calls(app_env, monkeypatch):
    at = open_page("explorer", **{state.EX_CLASS: "car"})
    ok(at)
    assert len(at.get("image")) >= 3
    reps = at.multiselect(key=state.EX_REPS).value
    assert len(reps) >= 2, "default representative classes come from S-1 over the clusters"
    last = dict(at.session_state[state.EX_LAST])
    assert len(last["ready"]) == len(reps)
    # from now on no model may be called: fusing uses the cached per-layer maps only
    from repcam_core.running import explore

    monkeypatch.setattr(explore, "_maps", lambda *a, **k: pytest.fail("a model was called"))
    at.multiselect(key=state.EX_REPS).set_value(reps[:1]).run()
    ok(at)
    one = dict(at.session_state[state.EX_LAST])
    assert len(one["ready"]) == 1
    assert one["fused_sum"] != last["fused_sum"]
    at.multiselect(key=state.EX_REPS).set_value([]).run()
    none = dict(at.session_state[state.EX_LAST])
    assert none["fused_sum"] != one["fused_sum"]
    # the IoU follows the fused map (on these tiny models two maps may both miss the object
    # entirely, IoU 0, so ask that it moved somewhere along the toggles)
    assert len({last["iou"], one["iou"], none["iou"]}) > 1
    at.slider(key=state.EX_THRESHOLD).set_value(0.0).run()  # whole image: IoU = GT share
    ok(at)
    assert at.session_state[state.EX_LAST]["iou"] != none["iou"]
    at.multiselect(key=state.EX_LAYERS).set_value(["layer4"]).run()
    ok(at)


def test_explorer_threshold_from_the_protocols_and_contrast_maps(app_env):
    """The live IoU at the fixed or the shown mode's calibrated threshold (read from the cached
    evaluation), and the training-free contrast maps as the fused map's source."""
    import json

    from repcam_core.running.config import RunConfig
    from repcam_core.running.experiment import Experiment
    from repcam_core.running.pipeline import Pipeline

    cfg = RunConfig.from_dict(json.loads(Path(app_env["REPCAM_APP_CONFIG"]).read_text()))
    exp = Experiment(Pipeline(cfg, cache=app_env["REPCAM_CACHE"]))
    core = exp.run(["S-1+A+F", "Contrast-S-1+A+F"]).to_json()["protocols"]["calibrated"]
    at = open_page("explorer", **{state.EX_CLASS: "car"})
    ok(at)
    at.slider(key=state.EX_THRESHOLD).set_value(0.6).run()
    at.radio(key=state.EX_THR_MODE).set_value("fixed").run()
    ok(at)
    assert at.session_state[state.EX_LAST]["threshold"] == cfg.threshold
    at.radio(key=state.EX_THR_MODE).set_value("calibrated").run()
    ok(at)
    last = at.session_state[state.EX_LAST]
    assert last["mode"] == "S-1+A+F" and last["threshold"] == core["S-1+A+F"]["threshold"]
    binary = dict(last)
    at.radio(key=state.EX_SOURCE).set_value("contrast").run()
    ok(at)
    last = at.session_state[state.EX_LAST]
    assert last["mode"] == "Contrast-S-1+A+F" and last["threshold"] == core["Contrast-S-1+A+F"]["threshold"]
    assert last["ready"] == binary["ready"] and last["fused_sum"] != binary["fused_sum"]
    at.multiselect(key=state.EX_REPS).set_value([]).run()  # no class fused: the Baseline+A map
    ok(at)
    assert at.session_state[state.EX_LAST]["mode"] == "Baseline+A"


def test_explorer_other_class_resets_representatives(app_env):
    at = open_page("explorer")
    ok(at)
    at.selectbox(key=state.EX_CLASS).set_value("sofa").run()
    ok(at)
    assert "sofa" not in at.multiselect(key=state.EX_REPS).value
    at.selectbox(key=state.EX_IMAGE).set_value(1).run()
    ok(at)


def test_results_page(app_env):
    at = open_page("results")
    ok(at)
    assert len(at.get("plotly_chart")) == 4  # ablation, per class, curve, Table 1
    df = at.dataframe[0].value
    assert "tinynet" in df.columns and "S-1+A+F" in df.index
    at.multiselect(key=state.RES_CURVE_MODES).set_value(["Baseline"]).run()
    ok(at)


def test_results_page_switches_protocols_and_compares_with_the_baseline(app_env):
    """Each protocol shows the core's figures for it, with intervals; the vs-Baseline table pairs them."""
    import json

    from repcam_core.running.config import RunConfig
    from repcam_core.running.experiment import Experiment
    from repcam_core.running.pipeline import Pipeline
    MODES = ["Baseline", "S-1+A+F", "Top1", "All"]  # what tests/app/conftest.py evaluates

    cfg = RunConfig.from_dict(json.loads(Path(app_env["REPCAM_APP_CONFIG"]).read_text()))
    at = open_page("results")
    listed = list(at.dataframe[0].value.index)  # every cached mode (other tests may have added some)
    assert set(MODES) <= set(listed)
    core = Experiment(Pipeline(cfg, cache=app_env["REPCAM_CACHE"])).run(listed).to_json()
    shown = {}
    for proto in ("fixed", "calibrated", "auc"):
        at.radio(key=state.RES_PROTOCOL).set_value(proto).run()
        ok(at)
        df = at.dataframe[0].value
        shown[proto] = df["tinynet"].to_dict()
        for mode in listed:
            assert shown[proto][mode] == pytest.approx(core["protocols"][proto][mode]["miou"], nan_ok=True)
            lo, hi = core["protocols"][proto][mode]["ci"]
            assert df.loc[mode, "tinynet 95% CI"] == f"[{lo:.2f}, {hi:.2f}]"
        vs = at.dataframe[1].value.set_index("mode")  # the vs-Baseline table
        assert "Baseline" not in vs.index and set(vs.index) == set(listed) - {"Baseline"}
        for mode in vs.index:
            assert vs.loc[mode, "diff (pts)"] == pytest.approx(core["vs_baseline"][proto][mode]["diff"])
            assert 0 <= vs.loc[mode, "P(better)"] <= 1
    assert shown["fixed"] != shown["auc"]
    curve = at.get("plotly_chart")[2].proto.spec
    assert '"symbol":"diamond"' in curve.replace(" ", "")  # the calibrated thresholds are marked


def test_upload_validation():
    import io

    from PIL import Image

    from repcam_app.uploads import MAX_BYTES, load_upload
    from repcam_core.errors import ImageError

    with pytest.raises(ImageError, match="not a readable image"):
        load_upload(b"hello", "notes.txt", 32)
    with pytest.raises(ImageError, match="limit is 20 MB"):
        load_upload(b"\0" * (MAX_BYTES + 1), "big.png", 32)
    buf = io.BytesIO()
    Image.new("RGB", (8000, 6000)).save(buf, format="PNG")
    with pytest.raises(ImageError, match="megapixels"):
        load_upload(buf.getvalue(), "huge.png", 32)
    buf = io.BytesIO()
    Image.new("RGB", (50, 40), (200, 10, 10)).save(buf, format="JPEG")
    img = load_upload(buf.getvalue(), "ok.jpg", 32)
    assert img.shape == (3, 32, 32) and img.dtype.is_floating_point is False


def test_results_page_shows_reference_maps_without_other_backbones(app_env):
    """The reference maps need no model, so their cached results match every backbone's key: they
    show under this backbone only, with the width notes, and add no empty column per backbone."""
    import json

    from repcam_core.running.config import RunConfig
    from repcam_core.running.experiment import Experiment
    from repcam_core.running.pipeline import Pipeline

    cfg = RunConfig.from_dict(json.loads(Path(app_env["REPCAM_APP_CONFIG"]).read_text()))
    core = Experiment(Pipeline(cfg, cache=app_env["REPCAM_CACHE"])).run(["Ref-Whole", "Ref-Centre"]).to_json()
    at = open_page("results")
    ok(at)
    df = at.dataframe[0].value
    assert [c for c in df.columns if not c.endswith("95% CI")] == ["tinynet"]
    assert df.loc["Ref-Whole", "tinynet"] == pytest.approx(core["protocols"]["fixed"]["Ref-Whole"]["miou"])
    assert any("Ref-Centre: Gaussian width" in c.value for c in at.caption)
