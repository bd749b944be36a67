"""Representative class selection for a target class c (paper sec. 3.1 and Tables 1-4).

Every selector returns a list of class indices that never contains ``c``. The CAM of ``c`` is
then the average of the binary-model CAMs of ``(c, j)`` over the selected ``j``.

* :func:`select_rank`: fixed 1-based positions in c's similarity order (Rank-a / Rank-b);
* :func:`select_random`: a seeded random draw (Random);
* :func:`select_cluster`: the k-th most similar class of every cluster (S-k);
* :func:`select_topk`: the k pairs with the best measured mIoU (the oracle Top-k of Table 1);
* :func:`select_all`: every other class (All).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from repcam_core.errors import ConfigError

RANK_A: tuple[int, ...] = (3, 9, 14, 17)
RANK_B: tuple[int, ...] = (3, 8, 13, 18)


def similarity_order(B: np.ndarray, c: int) -> np.ndarray:
    """Classes other than ``c`` sorted by ``B[c, j]`` descending; ties by lower index.

    Args:
        B: ``[C, C]`` similarity matrix.
        c: target class.

    Returns:
        ``[C-1]`` int64 class indices, most similar first.
    """
    B = _square(B)
    _check_class(c, B.shape[0])
    others = np.delete(np.arange(B.shape[0]), c)
    row = B[c, others]
    # lexsort sorts by the last key first: descending similarity, then ascending index.
    return others[np.lexsort((others, -row))]


def select_rank(B: np.ndarray, c: int, positions: Sequence[int]) -> list[int]:
    """Classes at the given 1-based ``positions`` of c's similarity order.

    Raises:
        ConfigError: for a position < 1 or > C-1.
    """
    order = similarity_order(B, c)
    n_other = order.shape[0]
    if not positions:
        raise ConfigError("at least one rank position is needed")
    if min(positions) < 1:
        raise ConfigError(f"Rank positions are 1-based, got {min(positions)}")
    p = max(positions)
    if p > n_other:
        raise ConfigError(
            f"Rank position {p} needs at least {p + 1} classes ({p} besides the target); "
            f"the dataset has {n_other + 1}"
        )
    return [int(order[p - 1]) for p in positions]


def select_random(num_classes: int, c: int, n: int, seed: int) -> list[int]:
    """``n`` distinct classes other than ``c`` drawn at random.

    The draw depends only on ``(seed, c)``: the same seed gives every class its own, but
    reproducible, set.

    Raises:
        ConfigError: for ``n < 1`` or ``n > num_classes - 1``.
    """
    _check_class(c, num_classes)
    if n < 1:
        raise ConfigError(f"number of random classes must be at least 1, got {n}")
    if n > num_classes - 1:
        raise ConfigError(
            f"cannot pick {n} random classes besides class {c}: only {num_classes - 1} others"
        )
    rng = np.random.default_rng([int(seed), int(c)])
    others = np.delete(np.arange(num_classes), c)
    return [int(j) for j in rng.choice(others, size=n, replace=False)]


def select_cluster(B: np.ndarray, labels: np.ndarray, c: int, k: int) -> list[int]:
    """S-k: from every cluster, the k-th (1-based) most similar class to ``c``.

    Clusters are visited in cluster id order. Candidates of a cluster are its members other
    than ``c``, sorted by ``B[c, j]`` descending (ties by lower index). A cluster with fewer than
    ``k`` candidates contributes its last (least similar) candidate instead — the paper does
    not say what to do then, and this keeps one class per cluster. A cluster whose only member
    is ``c`` is skipped.

    Args:
        B: ``[C, C]`` similarity matrix.
        labels: ``[C]`` int cluster id of each class.
        c: target class.
        k: 1-based rank within each cluster, ``1 <= k <= C-1``.
    """
    order = similarity_order(B, c)
    labels = np.asarray(labels)
    C = order.shape[0] + 1
    if labels.shape != (C,):
        raise ConfigError(f"cluster labels must be [C] = [{C}], got shape {labels.shape}")
    if k < 1 or k > C - 1:
        raise ConfigError(f"S-k needs 1 <= k <= {C - 1} (number of other classes), got k={k}")
    selected: list[int] = []
    for g in np.unique(labels):
        candidates = order[labels[order] == g]  # already in similarity order
        if candidates.size == 0:
            continue
        selected.append(int(candidates[min(k, candidates.size) - 1]))
    return selected


def select_topk(pairwise: np.ndarray, c: int, k: int) -> list[int]:
    """The ``k`` classes j with the highest ``pairwise[c, j]`` (the oracle Top-k of Table 1).

    Args:
        pairwise: ``[C, C]`` where ``pairwise[c, j]`` is the mIoU of class c's maps from the
            binary model (c, j); the diagonal (and any unmeasured pair) is NaN and never chosen.
        c: target class.
        k: how many classes, ``1 <= k <= C-1``. Ties go to the lower index.

    Raises:
        ConfigError: for k out of range or fewer than k measured pairs for ``c``.
    """
    pairwise = _square(pairwise)
    C = pairwise.shape[0]
    _check_class(c, C)
    if k < 1 or k > C - 1:
        raise ConfigError(f"Top-k needs 1 <= k <= {C - 1} (number of other classes), got k={k}")
    row = pairwise[c].copy()
    row[c] = np.nan
    valid = np.flatnonzero(~np.isnan(row))
    if valid.size < k:
        raise ConfigError(
            f"Top-{k} for class {c} needs {k} measured pairs, only {valid.size} are available"
        )
    best = valid[np.lexsort((valid, -row[valid]))][:k]
    return [int(j) for j in best]


def select_all(num_classes: int, c: int) -> list[int]:
    """Every class except ``c``, in index order."""
    _check_class(c, num_classes)
    return [j for j in range(num_classes) if j != c]


def _square(B: np.ndarray) -> np.ndarray:
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ConfigError(f"matrix must be square [C, C], got shape {B.shape}")
    return B


def _check_class(c: int, num_classes: int) -> None:
    if not 0 <= c < num_classes:
        raise ConfigError(f"class index {c} is out of range for {num_classes} classes")
