"""The app on real photos: MSRC-v2 and Oxford-Pet-3 opened from Home (a dataset spec and the
photos preset, or the operator's list); every page on MSRC-v2 with the photos preset, served from
the suite's real-photo run (``msrc_photos_run``: its configuration and cache, EfficientNet-Lite0
with its ImageNet weights); a photo uploaded to the explorer; and a 3-breed Pet directory, where
S-k is refused, in the explorer, the Clustering page and the warm-up."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from apptest_kit import ok, open_page, serve_config
from repcam_app import state
from repcam_core.running.config import RunConfig
from repcam_core.storage.cache import config_hash
from repcam_testing import MSRC_CLASSES, tiny_config
from test_demo_mode import sent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from pets_layout import make_pets  # noqa: E402  (the Pet layout generator of the reader's tests)

pytestmark = pytest.mark.slow
PAGES = ["home", "similarity", "clustering", "explorer", "results"]
BREEDS = ("Abyssinian", "american_bulldog", "Bengal")  # Oxford-Pet-3's, in CLASS-ID order


@pytest.fixture
def photos_app(msrc_photos_run, monkeypatch):
    """The app served on the real-photo run's configuration and cache."""
    assert msrc_photos_run.returncode == 0, msrc_photos_run.stderr
    monkeypatch.setenv("REPCAM_APP_CONFIG", str(msrc_photos_run.config_file))
    monkeypatch.setenv("REPCAM_CACHE", str(msrc_photos_run.cache))
    return msrc_photos_run


def _jobs(config: dict) -> list:
    from repcam_app.jobs import registry

    return registry().jobs(config_hash(config))


# ------------------------------------------------------------------------ opening them from Home
def test_home_opens_both_photo_sets_with_the_photos_preset(app_env, shared_data):
    at = open_page("home")
    ok(at)
    assert at.selectbox(key=state.PRESET).value == "embedded"  # the base configuration's preset
    at.text_input(key=state.DATASET).set_value(f"voc:{shared_data / 'msrc-v2'}")
    at.selectbox(key=state.PRESET).set_value("photos").run()
    ok(at)
    assert at.session_state[state.BACKBONE] == "efficientnet_lite0"  # the preset brings its backbone
    captions = [c.value for c in at.caption]
    assert any(c.startswith("preset **photos**: efficientnet_lite0 from ImageNet, 224 px crops") for c in captions)
    assert any(c.startswith("14 classes: aeroplane, bicycle, bird") for c in captions), captions
    at.text_input(key=state.DATASET).set_value(f"pets:{shared_data / 'oxford-pet-3'}").run()
    ok(at)
    assert any(c.value.startswith(f"3 classes: {', '.join(BREEDS)}") for c in at.caption)
    modes = at.multiselect(key="home_modes").options  # what 3 breeds can run (S-k cannot)
    assert "Rank-a+A+F" in modes and "All" in modes and not any(m.startswith("S-") for m in modes)
    at.selectbox(key=state.PRESET).set_value("embedded").run()  # back to the base: its backbone
    ok(at)
    assert at.session_state[state.BACKBONE] == "tinynet"


def test_the_operators_list_offers_both_photo_sets_by_name(app_env, shared_data, serve_on, monkeypatch):
    serve_on("0.0.0.0")
    msrc, pets = f"voc:{shared_data / 'msrc-v2'}", f"pets:{shared_data / 'oxford-pet-3'}"
    monkeypatch.setenv("REPCAM_DATA_ROOTS", f"MSRC-v2={msrc},{pets}")
    at = open_page("home")
    ok(at)
    assert at.selectbox(key=state.DATASET).options == ["embedded (generated world)", "MSRC-v2",
                                                        "oxford-pet-3 (Oxford-IIIT Pet)"]
    at.selectbox(key=state.DATASET).set_value(pets)
    at.selectbox(key=state.PRESET).set_value("photos").run()
    ok(at)
    assert any(c.value.startswith(f"3 classes: {', '.join(BREEDS)}") for c in at.caption)
    assert str(shared_data) not in sent(at)  # names, never the server's paths
    at.selectbox(key=state.DATASET).set_value(msrc).run()
    ok(at)
    assert any(c.value.startswith("14 classes: ") for c in at.caption)


def test_a_preset_is_its_configuration_on_the_chosen_dataset():
    from repcam_app.presets import app_config
    from repcam_core.running.config import photos_config

    base = tiny_config()
    assert app_config(base, "embedded", base.dataset, base.backbone, base.device) == base  # its own preset: kept
    assert app_config(base, "photos", "voc:/d", "efficientnet_lite0", "cpu") == photos_config(dataset="voc:/d",
                                                                                              device="cpu")
    pets = RunConfig(dataset="pets:/p")  # its evaluation split is the Pet layout's test
    assert pets.eval_split == "test"
    assert app_config(pets, "embedded", "voc:/d", "tinynet", "auto").eval_split == "val"  # VOC has no test
    assert app_config(pets, "embedded", "pets:/q", "tinynet", "auto").eval_split == "test"
    assert app_config(pets.with_(eval_split="trainval"), "embedded", "voc:/d", "tinynet", "auto").eval_split == \
        "trainval"  # a split chosen on purpose stays


# --------------------------------------------------------- MSRC-v2 with the photos preset, every page
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_on_msrc_with_the_photos_preset(photos_app, page):
    at = open_page(page)
    ok(at)
    assert not _jobs(photos_app.results["config"])  # the run cached everything the page shows: nothing starts
    if page == "home":
        assert at.table[0].value["status"].tolist()[:4] == ["cached", "cached", "cached", "6 / 6 trained"]
    if page == "results":
        df = at.dataframe[0].value
        assert "efficientnet_lite0" in df.columns and {"S-1+A+F", "Ref-Whole", "Ref-Centre"} <= set(df.index)


def test_explorer_shows_a_real_photos_maps_and_their_iou(photos_app):
    from repcam_core.models.backbones import BACKBONES

    at = open_page("explorer", **{state.EX_CLASS: "cow"})
    ok(at)
    reps = at.multiselect(key=state.EX_REPS).value
    assert reps == photos_app.results["comparisons"]["S-1+A+F"]["cow"]  # the CLI run's S-1 classes
    last = at.session_state[state.EX_LAST]
    assert last["mode"] == "S-1+A+F" and sorted(last["ready"]) == sorted(MSRC_CLASSES.index(r) for r in reps)
    assert last["iou"] is not None and last["baseline_iou"] is not None  # the photo's mask
    layers = list(BACKBONES.get("efficientnet_lite0").cam_layers)
    assert at.multiselect(key=state.EX_LAYERS).value == layers
    (expl,) = at.session_state[state.EXPLANATIONS].values()
    assert expl.baseline.shape == (len(layers), 96, 96) and set(expl.per_class) == set(last["ready"])
    heads = [h.value for h in at.subheader]
    assert "Map of each representative class (Fig. 5)" in heads and any(h.startswith("Per-layer maps") for h in heads)


def test_an_uploaded_photo_gets_the_photo_models_maps(photos_app, shared_data):
    """The photo of the first validation image, uploaded: the same crop at the configuration's
    size (96 px here, 224 under the preset itself), the same normalisation and models, so the
    same maps as the validation image (and no IoU: an upload has no mask)."""
    at = open_page("explorer", **{state.EX_CLASS: "cow"})
    ok(at)
    image_id = at.selectbox(key=state.EX_IMAGE).options[0].split(" ", 1)[1]  # "#0 <id>"
    data = (shared_data / "msrc-v2" / "JPEGImages" / f"{image_id}.jpg").read_bytes()
    at.file_uploader(key=state.EX_UPLOAD).set_value((f"{image_id}.jpg", data, "image/jpeg")).run()
    ok(at)
    found = {key[1][0]: e for key, e in at.session_state[state.EXPLANATIONS].items()}
    upload, val = found["upload"], found["val"]
    assert upload.image.shape == (3, 96, 96) and torch.equal(upload.image, val.image)
    torch.testing.assert_close(upload.baseline, val.baseline)
    assert set(upload.per_class) == set(val.per_class)
    for j in val.per_class:
        torch.testing.assert_close(upload.per_class[j], val.per_class[j])
    assert at.session_state[state.EX_LAST]["baseline_iou"] is None


# ---------------------------------------------------- three classes: S-k refused, Rank-a shown instead
SEEDS = iter(range(200, 300))


@pytest.fixture(scope="module")
def pets3_dir(tmp_path_factory) -> Path:
    return make_pets(tmp_path_factory.mktemp("pets3-app") / "pets", breeds=BREEDS, trainval=6, test=2)


@pytest.fixture
def pets3(pets3_dir, tmp_path, monkeypatch) -> RunConfig:
    """A 3-breed Pet configuration with the default 4 clusters (S-k refused), multi-class model and
    B cached; a seed of its own, so its background jobs are its own."""
    from repcam_core.running.pipeline import Pipeline

    cfg = tiny_config(dataset=f"pets:{pets3_dir}", world={}, image_size=16, n_clusters=4, min_cluster_size=4,
                      seed=next(SEEDS))
    Pipeline(cfg, cache=tmp_path / "cache").similarity()
    serve_config(cfg, tmp_path, monkeypatch)
    return cfg


def _rank_a(cfg: RunConfig) -> dict[int, list[int]]:
    from repcam_app.resources import pipeline
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode

    return Experiment(pipeline(cfg)).comparisons(parse_mode("Rank-a+A+F"))


def test_explorer_on_three_classes_falls_back_to_rank_a_with_a_note(pets3):
    from repcam_app.jobs import registry

    at = open_page("explorer")
    assert not at.exception and not at.error
    assert at.multiselect(key=state.EX_REPS).value == [BREEDS[j] for j in _rank_a(pets3)[0]] and len(BREEDS) == 3
    note = next(i.value for i in at.info if "cannot run on this dataset" in i.value)
    assert note.startswith("S-1+A+F cannot run on this dataset (4 clusters need at least 4 classes; the dataset has 3")
    assert "representative classes by Rank-a instead" in note
    registry().wait(300)  # the two binary models, trained on demand
    at.run()
    ok(at)
    last = at.session_state[state.EX_LAST]
    assert last["mode"] == "Rank-a+A+F" and sorted(last["ready"]) == [1, 2] and last["iou"] is not None


def test_clustering_page_on_three_classes(pets3):
    at = open_page("clustering", **{state.RULE_K: 5, state.KM_N: 4})  # left over from a dataset of more classes
    ok(at)
    assert at.session_state[state.KM_N] == 3 and at.session_state[state.RULE_K] == 2
    assert any("representative classes by Rank-a instead" in i.value for i in at.info)
    reps = at.dataframe[-1].value["representatives"].tolist()
    assert reps == [", ".join(BREEDS[j] for j in js) for js in _rank_a(pets3).values()]
    at.number_input(key=state.KM_N).set_value(2).run()  # the clusters themselves are still there to explore
    ok(at)
    assert max(at.session_state[state.CLUSTER_LABELS]) == 1


@pytest.mark.parametrize("page", ["home", "similarity", "results"])
def test_other_pages_on_three_classes(pets3, page):
    at = open_page(page)
    ok(at)


def test_warm_up_on_three_classes_trains_what_the_explorer_shows_first(pets3, monkeypatch):
    from repcam_app import warmup
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key, pipeline

    monkeypatch.setenv("REPCAM_WARMUP", "1")
    key, p = config_key(pets3), pipeline(pets3)
    warmup.warm_up(p, key)
    registry().wait(300)
    jobs = {j.name: j for j in registry().jobs(key)}
    expected = _rank_a(pets3)[0]
    assert jobs["warmup"].status == "done" and jobs["warmup"].result == expected and sorted(expected) == [1, 2]
    assert {n for n in jobs if n.startswith("binary:")} == {f"binary:0-{j}" for j in (1, 2)}
    assert all(p.has_binary(0, j) for j in (1, 2))


# ------------------------------------------------------------ clusters edited for another B
def test_clusters_edited_for_another_b_are_not_used(app_env):
    """Clusters the Clustering page made (or a user moved) feed the explorer only for the B they
    were made from: after another dataset or preset with as many classes, the configuration's own."""
    from repcam_app.widgets import b_identity
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode
    from repcam_core.running.pipeline import Pipeline

    p = Pipeline(tiny_config(), cache=app_env["REPCAM_CACHE"])
    own = [p.class_names[j] for j in Experiment(p).comparisons(parse_mode("S-1+A+F"))[0]]
    one_cluster = {state.CLUSTER_LABELS: [0] * p.num_classes, state.EX_CLASS: p.class_names[0]}
    at = open_page("explorer", **one_cluster, **{state.CLUSTER_SOURCE: ("improved-kmeans", 1, 0, 1, b_identity(p))})
    ok(at)
    assert len(at.multiselect(key=state.EX_REPS).value) == 1  # this B's edited clusters: one cluster, one class
    at = open_page("explorer", **one_cluster, **{state.CLUSTER_SOURCE: ("improved-kmeans", 1, 0, 1, "another B")})
    ok(at)
    assert at.multiselect(key=state.EX_REPS).value == own and len(own) > 1
