"""The clustering algorithms by name (improved k-means, spectral, agglomerative) and their scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from repcam_core.running.config import RunConfig
from repcam_core.errors import ConfigError, UnknownNameError
from repcam_core.method.cluster_compare import (compare_clusterings, family_labels, parse_seeds, score)
from repcam_core.method.clusterers import (CLUSTERINGS, DEFAULT_CLUSTERING, class_distance, cluster_classes,
                                           relabel, smallest_cluster)
from repcam_core.method.clustering import improved_kmeans, within_similarity

FAMILIES = np.repeat(np.arange(4), 5)  # 20 classes, 4 families of 5


def block_diagonal(truth: np.ndarray, diag: float = 50.0) -> np.ndarray:
    """B with mass only between classes of the same family (and on the diagonal)."""
    return (truth[:, None] == truth[None, :]) * 3.0 + np.eye(len(truth)) * diag


def easy(truth: np.ndarray, seed: int = 7) -> np.ndarray:
    """Family blocks plus asymmetric noise well below the within-family similarity."""
    rng = np.random.default_rng(seed)
    return block_diagonal(truth) + rng.uniform(0, 0.8, (len(truth), len(truth)))


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return {frozenset(np.flatnonzero(a == g)) for g in set(a)} == {frozenset(np.flatnonzero(b == g)) for g in set(b)}


def test_registry_lists_the_three_algorithms_with_the_paper_default_first():
    assert CLUSTERINGS.names() == ["improved-kmeans", "spectral", "agglomerative"]
    assert DEFAULT_CLUSTERING == CLUSTERINGS.names()[0] == RunConfig().clustering


@pytest.mark.parametrize("name", CLUSTERINGS.names())
def test_ari_and_nmi_are_one_on_a_block_diagonal_b_whose_blocks_are_the_families(name):
    B = block_diagonal(FAMILIES)
    labels = cluster_classes(name, B, 4, min_size=4, seed=3, n_init=5).labels
    s = score(B, labels, 4, FAMILIES)
    assert s["ari"] == pytest.approx(1.0) and s["nmi"] == pytest.approx(1.0)
    assert s["smallest"] == 5


def test_the_three_algorithms_agree_on_an_easy_b():
    B = easy(FAMILIES)
    results = {name: cluster_classes(name, B, 4, min_size=4, seed=0, n_init=5).labels for name in CLUSTERINGS}
    first = results["improved-kmeans"]
    assert same_partition(first, FAMILIES)
    assert all(same_partition(first, labels) for labels in results.values())


def test_a_wrong_partition_scores_below_the_true_one():
    B = easy(FAMILIES)
    wrong = np.roll(FAMILIES, 2)  # every family loses two members to the next
    good, bad = score(B, FAMILIES, 4, FAMILIES), score(B, wrong, 4, FAMILIES)
    assert good["within"] > bad["within"] and good["silhouette"] > bad["silhouette"]
    assert bad["ari"] < 0.6 and bad["nmi"] < good["nmi"]


def test_improved_kmeans_by_name_is_the_paper_algorithm_unchanged():
    B = easy(np.repeat(np.arange(3), 4), seed=1) + np.random.default_rng(5).uniform(0, 3, (12, 12))
    for seed in range(4):
        assert np.array_equal(cluster_classes("improved-kmeans", B, 3, 2, seed, 3).labels,
                              improved_kmeans(B, 3, min_size=2, seed=seed, n_init=3).labels)


def test_spectral_and_agglomerative_may_leave_a_cluster_below_the_minimum_size():
    truth = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3])  # class 9 is alike to nothing
    B = block_diagonal(truth)
    B[9, :9] = B[:9, 9] = 0.01
    agglo = cluster_classes("agglomerative", B, 4, min_size=2).labels
    assert smallest_cluster(agglo, 4) == 1  # the loner stays alone
    kmeans = cluster_classes("improved-kmeans", B, 4, min_size=2, n_init=5).labels
    assert smallest_cluster(kmeans, 4) >= 2  # only the improved k-means enforces it


def test_agglomerative_is_deterministic_so_its_spread_over_seeds_is_zero():
    B = easy(FAMILIES) + np.random.default_rng(0).uniform(0, 3, (20, 20))  # hard enough to vary k-means
    comp = compare_clusterings(B, 4, 4, seeds=range(5), truth=FAMILIES, n_init=1)
    summary = comp.summary()
    agglomerative = comp.runs["agglomerative"]  # deterministic: every seed gives the same partition and scores
    assert all(np.array_equal(r.labels, agglomerative[0].labels) and r.scores == agglomerative[0].scores
               for r in agglomerative)
    # so the spread is 0 up to the last bit of the mean of five equal doubles (which need not equal them)
    assert all(sd == pytest.approx(0, abs=1e-12) for _, sd in summary["agglomerative"].values())
    runs = comp.runs["improved-kmeans"]
    assert len(runs) == 5 and [r.seed for r in runs] == [0, 1, 2, 3, 4]
    mean, sd = summary["improved-kmeans"]["within"]
    vals = [r.scores["within"] for r in runs]
    assert mean == pytest.approx(np.mean(vals)) and sd == pytest.approx(np.std(vals, ddof=1))


def test_comparison_without_truth_has_no_ari_columns_and_null_json():
    comp = compare_clusterings(easy(FAMILIES), 4, 4, seeds=[0], class_names=[f"c{i}" for i in range(20)])
    header, rows = comp.table()
    assert "ARI" not in header and "NMI" not in header and len(rows) == 3
    data = json.loads(json.dumps(comp.to_json()))  # JSON-safe: NaN written as null
    assert data["truth"] is None and data["summary"]["spectral"]["ari"] == {"mean": None, "sd": None}
    assert data["runs"]["spectral"][0]["clusters"][0][0] == "c0"


def test_within_and_silhouette_match_their_definitions():
    B = easy(FAMILIES)
    s = score(B, FAMILIES, 4)
    assert s["within"] == pytest.approx(within_similarity(B, FAMILIES))
    assert math.isnan(s["ari"])
    one = score(B, np.zeros(20, int), 4)
    assert math.isnan(one["silhouette"]) and one["smallest"] == 0  # one cluster used of 4


def test_class_distance_is_a_symmetric_zero_diagonal_distance_in_unit_range():
    B = easy(FAMILIES)
    D = class_distance(B)
    assert np.allclose(D, D.T) and np.all(np.diag(D) == 0) and D.min() >= 0 and D.max() <= 1
    i, j = np.unravel_index(np.argmin(D + np.eye(20) * 9), D.shape)
    assert FAMILIES[i] == FAMILIES[j]
    assert np.all(class_distance(np.eye(5))[~np.eye(5, dtype=bool)] == 1)  # no mass: all far apart


def test_relabel_numbers_clusters_by_first_appearance():
    assert relabel(np.array([2, 2, 0, 1, 0])).tolist() == [0, 0, 1, 2, 1]


def test_bad_input_is_rejected_with_specific_errors():
    with pytest.raises(UnknownNameError, match="unknown clustering algorithm 'kmeans'; choose one of: improved"):
        cluster_classes("kmeans", easy(FAMILIES), 4)
    with pytest.raises(ConfigError, match="cannot make 5 clusters of at least 5"):
        cluster_classes("spectral", easy(FAMILIES), 5, min_size=5)
    with pytest.raises(ConfigError, match="negative"):
        cluster_classes("agglomerative", -easy(FAMILIES), 4)
    with pytest.raises(ConfigError, match="unknown clustering algorithm 'kmeans'"):
        RunConfig(clustering="kmeans")
    with pytest.raises(ConfigError, match="comma-separated integers"):
        parse_seeds("0,one")
    with pytest.raises(ConfigError, match="at least one seed"):
        compare_clusterings(easy(FAMILIES), 4, seeds=[])
    with pytest.raises(ConfigError, match="6 labels for 20 classes"):
        compare_clusterings(easy(FAMILIES), 4, truth=np.zeros(6, int))


def test_true_families_come_from_the_world_json(tmp_path):
    fams = {"vehicles": ["bus", "car"], "animals": ["cat", "dog"], "furniture": ["chair", "sofa"]}
    (tmp_path / "world.json").write_text(json.dumps({"families": fams}))
    labels, names = family_labels(tmp_path, ["bus", "car", "cat", "dog", "chair", "sofa"])
    assert labels.tolist() == [0, 0, 1, 1, 2, 2] and names == ("vehicles", "animals", "furniture")
    labels, names = family_labels(tmp_path, ["sofa", "dog", "cat"])  # a class subset: families renumbered
    assert labels.tolist() == [1, 0, 0] and names == ("animals", "furniture")
    assert family_labels(tmp_path, ["bus", "zebra"]) is None
    assert family_labels(tmp_path / "nowhere", ["bus"]) is None
