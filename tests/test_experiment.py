"""Modes, maps and the pairwise table on the tiny world."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repcam_testing import tiny_config
from repcam_core.errors import ConfigError
from repcam_core.evaluation.iou import IoUAccumulator
from repcam_core.running.experiment import Experiment
from repcam_core.method.modes import parse_mode
from repcam_core.evaluation.percent import pct
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.wsss import evaluate_wsss


@pytest.fixture(scope="module")
def exp(tiny_pipeline):
    return Experiment(tiny_pipeline)


def test_fused_mode_is_the_average_of_its_pair_maps(exp):
    """S-1+A+F recomputed by hand from the cached pair maps gives the stored IoU."""
    mode = parse_mode("S-1+A+F")
    result = exp.evaluate_mode(mode)
    p = exp.p
    acc = IoUAccumulator(p.num_classes, (0.15,))
    for c, comps in result.comparisons.items():
        maps = torch.stack([exp.pair_maps(c, j)["multi"].float() for j in comps]).mean(0)
        maps = (maps - maps.flatten(1).min(1).values[:, None, None])
        maps = maps / (maps.flatten(1).max(1).values[:, None, None] + 1e-7)
        acc.update(c, maps, p.eval_split.masks[p.eval_indices(c)])
    np.testing.assert_allclose(acc.per_class(0), result.per_class, atol=1e-6)


def test_s1_picks_one_class_per_cluster(exp):
    res = exp.evaluate_mode(parse_mode("S-1+F"))
    labels = exp.p.clustering().labels
    for c, comps in res.comparisons.items():
        assert c not in comps
        assert sorted(labels[j] for j in comps) == sorted(set(labels[j] for j in comps))


def test_pairwise_table_and_topk_oracle(exp):
    table = exp.pairwise()["single"]
    C = exp.p.num_classes
    assert table.shape == (C, C) and np.isnan(np.diag(table)).all()
    top1 = exp.evaluate_mode(parse_mode("Top1"))
    # Top1 uses, per class, the single best binary model: its IoU is the row maximum
    np.testing.assert_allclose(top1.per_class, np.nanmax(table, 1), atol=1e-6)


def test_baseline_maps_are_normalised_and_cover_each_class_image(exp):
    maps = exp.baseline_maps(0)["single"].float()
    assert maps.shape[0] == len(exp.p.eval_indices(0))
    assert maps.min() >= 0 and maps.max() <= 1.001


def test_results_json_in_percent(exp):
    res = exp.run(["Baseline", "S-1+A+F"])
    data = res.to_json()
    assert set(data["miou"]) == {"Baseline", "S-1+A+F"}
    assert data["miou"]["Baseline"] == pct(res.modes["Baseline"].miou)
    assert set(data["per_class"]["Baseline"]) == set(exp.p.class_names)


def test_modes_out_of_range_fail_before_training(tmp_path):
    exp = Experiment(Pipeline(tiny_config(), cache=tmp_path))
    with pytest.raises(ConfigError, match="mode Top6: Top-6 picks the 6 best of a class's pairs; the dataset has 5"):
        exp.run(["Top6"])
    with pytest.raises(ConfigError, match="k=7 is out of range for 6 classes"):
        exp.run(["S-7+F"])
    assert not (tmp_path / "multiclass").exists()


def test_wsss_evaluation_with_background_always_winning(exp):
    """bg_threshold 1.0: no map beats the background plane, so every pixel is predicted
    background: class IoUs are 0 and the background IoU is the share of background pixels."""
    res = evaluate_wsss(exp, "S-1+F", bg_threshold=1.0)
    masks = exp.p.eval_split.masks
    valid = masks != 255
    bg_share = float(((masks == 0) & valid).sum()) / float(valid.sum())
    assert res["iou"][0] == pytest.approx(bg_share, abs=1e-6)
    present = [c for c in range(exp.p.num_classes) if (masks == c + 1).any()]
    assert all(res["iou"][c + 1] == 0 for c in present)


def test_wsss_evaluation_is_between_extremes(exp):
    low = evaluate_wsss(exp, "S-1+A+F", bg_threshold=0.15)
    assert 0 < low["miou"] <= 1 and len(low["iou"]) == exp.p.num_classes + 1
    with pytest.raises(ConfigError, match="background threshold"):
        evaluate_wsss(exp, "S-1+F", bg_threshold=2)


def test_a_result_that_reads_the_clusters_is_keyed_by_the_restarts_too(tmp_path):
    """Changing ``cluster_restarts`` changes the clustering, so it must not reuse an S-k result
    cached under other restarts; results that read no clusters keep their keys, and the default
    keeps the keys earlier caches wrote."""
    from repcam_core.method.modes import parse_mode

    base = Experiment(Pipeline(tiny_config(), cache=tmp_path))
    other = Experiment(Pipeline(tiny_config(cluster_restarts=3), cache=tmp_path))
    s1, baseline = parse_mode("S-1+F"), parse_mode("Baseline")
    assert base.mode_key(s1) != other.mode_key(s1)
    assert base.mode_key(baseline) == other.mode_key(baseline)
    assert base.mode_key(s1)["clusters"] == [3, 2]  # tiny_config's N and minimum size, nothing else


def test_compute_caches_everything_the_table_reads_so_the_table_then_only_reads(tiny_pipeline, monkeypatch):
    """What a worker process runs (``compute``) leaves the results and every protocol value in the
    cache: afterwards ``cached`` assembles the same table as ``run`` with counting and protocol
    computation disabled in this process (the server no longer computes the summary twice)."""
    import repcam_core.running.experiment as mod

    modes = ["Baseline", "S-1+F", "Ref-Whole"]
    other = tiny_pipeline.config.with_(bootstrap=tiny_pipeline.config.bootstrap + 1)  # protocol values not cached yet
    plan = Experiment(Pipeline(other, cache=tiny_pipeline.cache)).compute(modes)
    assert [m.name for m in plan.modes] == modes

    def refuse(*_a, **_k):
        raise AssertionError("computed again after compute()")

    monkeypatch.setattr(mod, "protocol_values", refuse)
    monkeypatch.setattr(mod, "count_pixels", refuse)
    monkeypatch.setattr(mod, "bootstrap_weights", refuse)
    table = Experiment(Pipeline(other, cache=tiny_pipeline.cache)).cached(modes)
    assert list(table.modes) == modes
    assert set(table.protocols["protocols"]) == {"fixed", "calibrated", "auc"}
    monkeypatch.undo()
    again = Experiment(Pipeline(other, cache=tiny_pipeline.cache)).run(modes).to_json()
    assert table.to_json()["protocols"] == again["protocols"]
