"""The paper's "improved k-means" over classes (sec. 3.1.3).

Classes have no coordinates, only pairwise similarities, so there is no cluster centre. The
paper replaces "distance to the centre" by "average similarity to the cluster's members":

1. split the C classes randomly into N clusters;
2. for each class, compute its average similarity to the members of every cluster and move it
   to the cluster with the largest average;
3. repeat until a full pass moves nothing.

Choices made here where the paper is silent:

* similarity is symmetrised, ``S = (B + B.T) / 2``, and the diagonal is ignored;
* classes are visited in the fixed order ``0..C-1`` on every pass (the randomness is only in
  the initial partition, seeded by ``seed``);
* a class moves only to a strictly better cluster (ties: stay; among tied better clusters the
  lowest id wins) and only if its source cluster keeps at least ``min_size`` members — the paper
  asks for "no less than 4 samples per cluster" with N = 4 on VOC;
* passes stop after ``max_iter`` even if classes still move (``converged=False``), so an
  oscillating configuration cannot loop forever.

Like k-means this is a local search: an unlucky initial partition can converge to a local
optimum (e.g. two true groups merged while a third is split in two). Try several seeds when
that matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repcam_core.errors import ConfigError


@dataclass(frozen=True)
class ClusterResult:
    """Outcome of :func:`improved_kmeans`.

    Attributes:
        labels: ``[C]`` int cluster id ``0..N-1`` of each class.
        iterations: number of full passes run (including the final pass that moved nothing).
        converged: True when a pass moved nothing before ``max_iter`` was reached.
        moves: total number of single-class moves over all passes.
    """

    labels: np.ndarray
    iterations: int
    converged: bool
    moves: int

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def clusters(self) -> list[list[int]]:
        """Class indices of each cluster, by cluster id, each list in increasing class order."""
        return [np.flatnonzero(self.labels == g).tolist() for g in range(self.n_clusters)]


def improved_kmeans(
    B: np.ndarray,
    n_clusters: int,
    min_size: int = 1,
    seed: int = 0,
    max_iter: int = 100,
    n_init: int = 1,
) -> ClusterResult:
    """Cluster classes by average similarity (see module docstring for the exact rules).

    Args:
        B: ``[C, C]`` similarity matrix (eq. (2)); need not be symmetric.
        n_clusters: N, number of clusters, ``1 <= N <= C``.
        min_size: minimum members per cluster, kept from the initial partition onwards.
        seed: seeds the random initial partition(s).
        max_iter: maximum number of passes over all classes.
        n_init: random initial partitions to try (as k-means implementations do); the result
            with the highest :func:`within_similarity` is kept. 1 is the paper's single run.

    Returns:
        :class:`ClusterResult` with ``labels`` ``[C]``.

    Raises:
        ConfigError: for a non-square or non-finite B, or impossible N / min_size / max_iter.
    """
    if n_init < 1:
        raise ConfigError(f"n_init must be >= 1, got {n_init}")
    if n_init > 1:
        runs = [improved_kmeans(B, n_clusters, min_size, seed=seed * 7919 + r, max_iter=max_iter)
                for r in range(n_init)]
        scores = [within_similarity(B, r.labels) for r in runs]
        return runs[int(np.argmax(scores))]  # first best on ties
    S = _symmetric_similarity(B)
    C = S.shape[0]
    _validate(C, n_clusters, min_size, max_iter)

    rng = np.random.default_rng(seed)
    labels = _initial_partition(C, n_clusters, min_size, rng)

    # sums[i, g] = total similarity between class i and the members of g (diagonal is 0, so i
    # itself contributes nothing); counts[g] = members of g. Both updated incrementally.
    onehot = np.zeros((C, n_clusters), dtype=np.float64)
    onehot[np.arange(C), labels] = 1.0
    sums = S @ onehot
    counts = np.bincount(labels, minlength=n_clusters).astype(np.int64)

    moves = 0
    iterations = 0
    converged = False
    while iterations < max_iter:
        iterations += 1
        moved_this_pass = 0
        for i in range(C):
            src = int(labels[i])
            if counts[src] - 1 < min_size:
                continue  # leaving would shrink the source below min_size
            others = counts.astype(np.float64)
            others[src] -= 1.0  # members of each cluster other than i
            avg = np.full(n_clusters, -np.inf)
            np.divide(sums[i], others, out=avg, where=others > 0)
            best = int(np.argmax(avg))
            if best == src or avg[best] <= avg[src]:
                continue
            labels[i] = best
            counts[src] -= 1
            counts[best] += 1
            sums[:, src] -= S[:, i]
            sums[:, best] += S[:, i]
            moved_this_pass += 1
        moves += moved_this_pass
        if moved_this_pass == 0:
            converged = True
            break
    return ClusterResult(labels=labels, iterations=iterations, converged=converged, moves=moves)


def within_similarity(B: np.ndarray, labels: np.ndarray) -> float:
    """The clustering objective: summed over classes, the average (symmetrised, off-diagonal)
    similarity of a class to the other members of its cluster (0 for a singleton)."""
    S = _symmetric_similarity(B)
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    counts = same.sum(1)
    sums = (S * same).sum(1)
    return float(np.sum(np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)))


def reorder_by_clusters(labels: np.ndarray) -> np.ndarray:
    """Permutation ``[C]`` of class indices listing cluster 0's classes first, then cluster 1's...

    Within a cluster classes keep increasing index order, so ``B[np.ix_(p, p)]`` shows the
    clusters as diagonal blocks in a heatmap.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ConfigError(f"cluster labels must be [C], got shape {labels.shape}")
    return np.argsort(labels, kind="stable")


def _symmetric_similarity(B: np.ndarray) -> np.ndarray:
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ConfigError(f"similarity matrix must be square [C, C], got shape {B.shape}")
    S = (B + B.T) / 2.0
    np.fill_diagonal(S, 0.0)
    if not np.isfinite(S).all():
        raise ConfigError("similarity matrix has NaN or infinite off-diagonal values")
    return S


def _validate(C: int, n_clusters: int, min_size: int, max_iter: int) -> None:
    if n_clusters < 1:
        raise ConfigError(f"number of clusters must be at least 1, got {n_clusters}")
    if n_clusters > C:
        raise ConfigError(f"cannot make {n_clusters} clusters from {C} classes")
    if min_size < 1:
        raise ConfigError(f"minimum cluster size must be at least 1, got {min_size}")
    if n_clusters * min_size > C:
        raise ConfigError(
            f"cannot make {n_clusters} clusters of at least {min_size} classes from {C} classes"
        )
    if max_iter < 1:
        raise ConfigError(f"max_iter must be at least 1, got {max_iter}")


def _initial_partition(
    C: int, n_clusters: int, min_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Random labels ``[C]`` giving every cluster at least ``min_size`` members."""
    perm = rng.permutation(C)
    labels = np.empty(C, dtype=np.int64)
    guaranteed = n_clusters * min_size
    labels[perm[:guaranteed]] = np.repeat(np.arange(n_clusters), min_size)
    labels[perm[guaranteed:]] = rng.integers(0, n_clusters, size=C - guaranteed)
    return labels
