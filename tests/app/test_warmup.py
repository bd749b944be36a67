"""The live demo's first minute: the explorer shows the Baseline while B is computed, then the
default class's S-1 classes; the warm-up trains what the explorer shows first in the background."""

from __future__ import annotations

import threading

import pytest

from repcam_app import state
from repcam_testing import tiny_config

from apptest_kit import ok, open_page, serve_config


SEEDS = iter(range(11, 100))


@pytest.fixture
def fresh_env(tmp_path, monkeypatch):
    """A configuration of its own (its own jobs in the process-wide registry, which knows jobs by
    configuration) whose cache holds only the multi-class model (no B yet)."""
    from repcam_core.running.pipeline import Pipeline

    cfg = tiny_config(seed=next(SEEDS))
    Pipeline(cfg, cache=tmp_path / "cache").multiclass_model()
    serve_config(cfg, tmp_path, monkeypatch)
    return cfg


def test_explorer_shows_the_baseline_while_b_is_computed_then_preselects_s1(fresh_env, monkeypatch):
    import repcam_core.running.pipeline as pipeline_module
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key

    release = threading.Event()
    real = pipeline_module.Pipeline.similarity

    def held(self):  # B's job waits until the page has been looked at without it
        if threading.current_thread().name.startswith("repcam-"):
            release.wait(120)
        return real(self)

    monkeypatch.setattr(pipeline_module.Pipeline, "similarity", held)
    at = open_page("explorer", **{state.EX_CLASS: "bus"})
    assert not at.exception and not at.error
    assert any("Computing B" in i.value for i in at.info)
    assert at.session_state[state.EX_REPS] == []
    last = at.session_state[state.EX_LAST]
    assert last["baseline_iou"] is not None and last["mode"].startswith("Baseline")
    assert "fused over 0" not in str(at)  # never a map labelled as fused over no class
    release.set()
    registry().wait(300)
    job = registry().get(config_key(fresh_env), "similarity")
    assert job is not None and job.status == "done"
    at.run()
    assert not at.exception
    from repcam_app.resources import pipeline
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode

    s1 = Experiment(pipeline(fresh_env)).comparisons(parse_mode("S-1+A+F"))[0]  # bus is class 0
    names = pipeline(fresh_env).class_names
    assert at.session_state[state.EX_REPS] == [names[j] for j in s1], "once B exists, the S-1 classes"


def test_warm_up_asks_for_the_explorers_first_work_once(fresh_env, monkeypatch):
    from repcam_app import warmup
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key, pipeline
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode

    monkeypatch.setenv("REPCAM_WARMUP", "1")
    key = config_key(fresh_env)
    p = pipeline(fresh_env)
    warmup.warm_up(p, key)
    warmup.warm_up(p, key)  # asked twice: the same jobs
    registry().wait(600)
    jobs = {j.name: j for j in registry().jobs(key)}
    assert jobs["multiclass"].status == jobs["warmup"].status == "done"
    expected = Experiment(p).comparisons(parse_mode("S-1+A+F"))[0]
    assert jobs["warmup"].result == expected and expected
    assert {n for n in jobs if n.startswith("binary:")} == {f"binary:{min(0, j)}-{max(0, j)}" for j in expected}
    assert all(p.has_binary(0, j) for j in expected)


def test_no_warm_up_without_the_switch_or_in_a_read_only_demo(fresh_env, monkeypatch):
    from repcam_app import warmup
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key, pipeline

    key = config_key(fresh_env)
    monkeypatch.delenv("REPCAM_WARMUP", raising=False)
    warmup.warm_up(pipeline(fresh_env), key)
    monkeypatch.setenv("REPCAM_WARMUP", "1")
    monkeypatch.setenv("REPCAM_READ_ONLY", "1")
    warmup.warm_up(pipeline(fresh_env), key)
    assert registry().jobs(key) == []


@pytest.mark.parametrize("page", ["home", "explorer", "similarity", "clustering", "results"])
def test_on_a_first_start_every_page_renders_at_once_while_the_world_is_generated(page, tmp_path, monkeypatch):
    """A fresh cache: the embedded world is not on disk. The first run of each page draws at once
    (Home its status table) instead of blocking until the world exists, with the generation job's
    progress; the job generates the world, and Home's next run shows the real statuses."""
    from repcam_app.jobs import registry
    from repcam_core.data.sources import dataset_pending

    cfg = tiny_config(seed=next(SEEDS), world={**tiny_config().world, "seed": next(SEEDS)})
    serve_config(cfg, tmp_path, monkeypatch)
    assert dataset_pending(cfg.dataset, tmp_path / "cache", cfg.world)
    at = open_page(page)
    ok(at)
    assert any("Generating the embedded dataset" in i.value for i in at.info)
    if page == "home":
        assert set(at.table[0].value["status"]) == {"waiting for the dataset"}
    registry().wait(120)
    assert not dataset_pending(cfg.dataset, tmp_path / "cache", cfg.world)
    if page == "home":
        at.run()
        ok(at)
        status = at.table[0].value["status"].tolist()
        assert status[0] == "not yet" and "0 / 15" in status[3]
