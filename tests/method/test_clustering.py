"""The paper's improved k-means (sec. 3.1.3) on block-structured similarity matrices."""

from __future__ import annotations


import numpy as np
import pytest

from repcam_core.errors import ConfigError
from repcam_core.method.clustering import ClusterResult, improved_kmeans, reorder_by_clusters

BLOCKS = {frozenset(range(0, 4)), frozenset(range(4, 8)), frozenset(range(8, 12))}


def block_matrix(sizes, hi=0.8, lo=0.1, noise=0.1, seed=123) -> np.ndarray:
    """High similarity inside each block, low across, plus uniform noise (not symmetric)."""
    group = np.repeat(np.arange(len(sizes)), sizes)
    C = group.size
    base = np.where(group[:, None] == group[None, :], hi, lo)
    return base + np.random.default_rng(seed).uniform(0, noise, (C, C))


def partition(result: ClusterResult) -> set[frozenset[int]]:
    return {frozenset(g) for g in result.clusters()}


@pytest.mark.parametrize("seed", range(10))
def test_recovers_three_blocks_of_four(seed):
    result = improved_kmeans(block_matrix((4, 4, 4)), n_clusters=3, seed=seed)
    assert partition(result) == BLOCKS
    assert result.labels.shape == (12,)
    assert set(result.labels.tolist()) == {0, 1, 2}


def test_stops_after_a_few_passes_and_reports_convergence():
    result = improved_kmeans(block_matrix((4, 4, 4)), n_clusters=3, seed=0)
    assert result.converged
    assert 1 <= result.iterations <= 5
    assert result.moves >= 0


def test_two_pairs_hand_case_ends_in_the_pairs():
    # 0~1 and 2~3 are similar (0.9), everything else 0.1: any start ends in {0,1}, {2,3}
    B = np.full((4, 4), 0.1)
    B[0, 1] = B[1, 0] = B[2, 3] = B[3, 2] = 0.9
    for seed in range(5):
        assert partition(improved_kmeans(B, 2, seed=seed)) == {frozenset({0, 1}), frozenset({2, 3})}


def test_uses_symmetrised_similarity():
    # only the upper triangle says 0~1 and 2~3; (B + B.T) / 2 still separates the pairs
    B = np.zeros((4, 4))
    B[0, 1] = B[2, 3] = 1.0
    for seed in range(5):
        assert partition(improved_kmeans(B, 2, seed=seed)) == {frozenset({0, 1}), frozenset({2, 3})}


def test_min_size_prevents_the_tiny_cluster():
    # blocks of 6 and 2: unconstrained, the optimum keeps {6, 7} alone
    B = block_matrix((6, 2), hi=0.9, lo=0.1, noise=0.0)
    free = improved_kmeans(B, 2, seed=0)
    assert partition(free) == {frozenset(range(6)), frozenset({6, 7})}
    for seed in range(5):
        result = improved_kmeans(B, 2, min_size=3, seed=seed)
        sizes = sorted(len(g) for g in result.clusters())
        assert sizes == [3, 5]
        assert result.labels[6] == result.labels[7]


def test_max_iter_stops_an_unfinished_run():
    B = block_matrix((4, 4, 4))
    full = improved_kmeans(B, 3, seed=0)
    assert full.iterations >= 2, "this start needs more than one pass"
    cut = improved_kmeans(B, 3, seed=0, max_iter=1)
    assert cut.iterations == 1 and not cut.converged


def test_same_seed_same_result():
    B = np.random.default_rng(5).random((20, 20))
    a, b = improved_kmeans(B, 4, min_size=4, seed=7), improved_kmeans(B, 4, min_size=4, seed=7)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_eighty_classes_respect_min_size_and_converge():
    B = np.random.default_rng(0).random((80, 80))
    result = improved_kmeans(B, 4, min_size=4, seed=0)
    assert result.converged
    assert min(len(g) for g in result.clusters()) >= 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_clusters": 0}, "at least 1"),
        ({"n_clusters": 21}, "cannot make 21 clusters from 20 classes"),
        ({"n_clusters": 2, "min_size": 0}, "minimum cluster size"),
        (
            {"n_clusters": 4, "min_size": 6},
            "cannot make 4 clusters of at least 6 classes from 20 classes",
        ),
        ({"n_clusters": 2, "max_iter": 0}, "max_iter"),
    ],
)
def test_rejects_impossible_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        improved_kmeans(np.ones((20, 20)), **kwargs)


def test_rejects_non_square_matrix():
    with pytest.raises(ConfigError, match="square"):
        improved_kmeans(np.ones((4, 5)), 2)


def test_reorder_groups_clusters_keeping_class_order():
    np.testing.assert_array_equal(reorder_by_clusters(np.array([1, 0, 1, 0, 2])), [1, 3, 0, 2, 4])


def test_restarts_keep_the_partition_with_the_highest_within_similarity():
    from repcam_core.method.clustering import within_similarity

    rng = np.random.default_rng(3)
    B = rng.random((16, 16)) * 0.2
    for block in range(4):
        sl = slice(4 * block, 4 * block + 4)
        B[sl, sl] += 1.0
    single = [improved_kmeans(B, 4, min_size=2, seed=s) for s in range(12)]
    best = improved_kmeans(B, 4, min_size=2, seed=0, n_init=12)
    assert within_similarity(B, best.labels) >= max(within_similarity(B, r.labels) for r in single[:1]) - 1e-9
    # the 4 planted blocks are the optimum; twelve restarts find them
    assert sorted(sorted(g) for g in best.clusters()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]


def test_within_similarity_hand_case():
    from repcam_core.method.clustering import within_similarity

    B = np.array([[0, 2, 0], [2, 0, 1], [0, 1, 0]], dtype=float)
    # clusters {0, 1}, {2}: class 0 -> 2, class 1 -> 2, class 2 alone -> 0
    assert within_similarity(B, np.array([0, 0, 1])) == 4.0
    with pytest.raises(ConfigError, match="n_init must be >= 1"):
        improved_kmeans(B, 2, n_init=0)
