"""Representative class selection on similarity rows whose order is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from repcam_core.errors import ConfigError
from repcam_core.method.selection import (
    RANK_A,
    RANK_B,
    select_all,
    select_cluster,
    select_random,
    select_rank,
    select_topk,
    similarity_order,
)


def scrambled_row_matrix(c: int = 5, C: int = 20) -> np.ndarray:
    """B with B[c, j] = (7 j) mod 20 and a huge diagonal that must never be selected."""
    B = np.zeros((C, C))
    B[c] = (7 * np.arange(C)) % 20
    B[c, c] = 100.0
    return B


# Values (7 j) mod 20 for j != 5, sorted descending: 19 (j=17), 18 (14), 17 (11), 16 (8),
# 14 (2), 13 (19), 12 (16), 11 (13), 10 (10), 9 (7), 8 (4), 7 (1), 6 (18), 5 (15), 4 (12),
# 3 (9), 2 (6), 1 (3), 0 (0).
ORDER_OF_5 = [17, 14, 11, 8, 2, 19, 16, 13, 10, 7, 4, 1, 18, 15, 12, 9, 6, 3, 0]


def test_similarity_order_descends_and_excludes_target():
    np.testing.assert_array_equal(similarity_order(scrambled_row_matrix(), 5), ORDER_OF_5)


def test_similarity_order_breaks_ties_by_lower_index():
    B = np.zeros((5, 5))
    B[0] = [9.0, 1.0, 2.0, 2.0, 1.0]
    np.testing.assert_array_equal(similarity_order(B, 0), [2, 3, 1, 4])


def test_rank_a_picks_positions_3_9_14_17():
    assert RANK_A == (3, 9, 14, 17)
    assert select_rank(scrambled_row_matrix(), 5, RANK_A) == [11, 10, 15, 6]


def test_rank_b_picks_positions_3_8_13_18():
    assert RANK_B == (3, 8, 13, 18)
    assert select_rank(scrambled_row_matrix(), 5, RANK_B) == [11, 13, 18, 3]


def test_rank_position_beyond_the_classes_is_an_error():
    with pytest.raises(ConfigError, match="Rank position 17 needs at least 18 classes.*has 12"):
        select_rank(np.ones((12, 12)), 0, RANK_A)


# Similarity to class 0: 1:.9 2:.1 3:.5 4:.3 5:.7 6:.2 7:.8
ROW0 = [0.0, 0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8]
# cluster 0 = {0} (only the target: skipped); 1 = {1, 2, 3} -> by similarity 1, 3, 2;
# 2 = {4, 5, 6} -> 5, 4, 6; 3 = {7}
LABELS = np.array([0, 1, 1, 1, 2, 2, 2, 3])


def cluster_matrix() -> np.ndarray:
    B = np.zeros((8, 8))
    B[0] = ROW0
    return B


@pytest.mark.parametrize(
    "k, expected",
    [
        (1, [1, 5, 7]),
        (2, [3, 4, 7]),  # cluster 3 has one candidate: clamped to it
        (3, [2, 6, 7]),
        (4, [2, 6, 7]),  # every cluster clamped to its least similar candidate
    ],
)
def test_s_k_takes_kth_of_each_cluster_with_clamp_and_skip(k, expected):
    assert select_cluster(cluster_matrix(), LABELS, 0, k) == expected


def test_s_k_excludes_target_from_its_own_cluster():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # cluster 0 = {0, 1, 2}: candidates 1, 2
    assert select_cluster(cluster_matrix(), labels, 0, 1) == [1, 7]
    assert select_cluster(cluster_matrix(), labels, 0, 2) == [2, 5]


@pytest.mark.parametrize("k", [0, 8])
def test_s_k_rejects_k_out_of_range(k):
    with pytest.raises(ConfigError, match="1 <= k <= 7"):
        select_cluster(cluster_matrix(), LABELS, 0, k)


def test_random_is_deterministic_distinct_and_excludes_target():
    for c in range(20):
        for seed in range(3):
            picked = select_random(20, c, 4, seed)
            assert picked == select_random(20, c, 4, seed)
            assert c not in picked
            assert len(set(picked)) == 4
            assert all(0 <= j < 20 for j in picked)


def test_random_depends_on_seed_and_class():
    by_seed = {tuple(sorted(select_random(20, 3, 4, seed))) for seed in range(10)}
    by_class = {tuple(sorted(select_random(20, c, 4, 0))) for c in range(20)}
    assert len(by_seed) > 1
    assert len(by_class) > 1


def test_random_rejects_more_classes_than_exist():
    with pytest.raises(ConfigError, match="only 4 others"):
        select_random(5, 0, 5, seed=0)


def test_topk_picks_highest_pairwise_miou():
    pairwise = np.full((4, 4), np.nan)
    pairwise[1] = [0.3, np.nan, 0.5, 0.4]
    assert select_topk(pairwise, 1, 1) == [2]
    assert select_topk(pairwise, 1, 2) == [2, 3]
    assert select_topk(pairwise, 1, 3) == [2, 3, 0]
    with pytest.raises(ConfigError, match="1 <= k <= 3"):
        select_topk(pairwise, 1, 4)


def test_topk_needs_enough_measured_pairs():
    pairwise = np.full((4, 4), np.nan)
    pairwise[0, 1] = 0.2
    with pytest.raises(ConfigError, match="needs 2 measured pairs, only 1"):
        select_topk(pairwise, 0, 2)


def test_all_is_every_other_class():
    assert select_all(4, 2) == [0, 1, 3]
