"""Clustering algorithms over classes by name: the paper's improved k-means and two scikit-learn
baselines, so S-k can be fed by any of them and the choice compared (``repcam cluster --compare``).

Every algorithm takes the similarity matrix B ``[C, C]`` (eq. (2)) and returns a
:class:`~repcam_core.method.clustering.ClusterResult`. ``CLUSTERINGS`` is the registry the
CLI's ``--clustering`` choices, the app's select box and the tests read.

Choices made here where the issue and the paper are silent:

* **improved-kmeans** is :func:`~repcam_core.method.clustering.improved_kmeans` unchanged
  (``n_init`` random starts, the best within-cluster similarity kept).
* **spectral** (``sklearn.cluster.SpectralClustering``, ``affinity="precomputed"``): the
  affinity is the symmetrised B, ``A = (B + B.T) / 2``, with its diagonal set to 0 (a correct
  classification says nothing about which classes are alike), raw (not row-normalised) as the
  improved k-means sees it. Labels are assigned by k-means on the spectral embedding, seeded by
  ``seed`` with ``n_init`` starts. A B with blocks that share no mass is a graph with several
  components: scikit-learn warns that the graph is not fully connected; that is the expected
  case for well-separated families, so the warning is silenced. A B without off-diagonal mass
  gives an arbitrary partition (every partition is as good), as the improved k-means does.
* **agglomerative** (``sklearn.cluster.AgglomerativeClustering``, ``linkage="average"``,
  ``metric="precomputed"``) on :func:`class_distance`: ``D = 1 - S / max(S)`` where ``S`` is the
  symmetrised row-normalised B (each row's off-diagonal mass sums to 1, so classes with more
  images do not dominate), off-diagonal maximum 1 -> distance 0, no mass -> distance 1, and a
  zero diagonal. It is deterministic: ``seed`` and ``n_init`` are accepted and ignored.
* Neither scikit-learn algorithm can enforce the minimum cluster size: a cluster smaller than
  ``min_size`` is kept as it is (S-k then draws fewer classes from it, none from an empty slot);
  :func:`smallest_cluster` lets callers report it. ``n_clusters`` and ``min_size`` are still
  validated exactly as for the improved k-means, so a configuration is valid or not whatever
  the algorithm. Their labels are renumbered in order of first appearance (class 0 is in
  cluster 0), so equal partitions have equal labels.
* ``iterations`` of a scikit-learn result is 1 and ``moves`` 0 (no pass structure to report).
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from repcam_core.method.clustering import ClusterResult, _symmetric_similarity, _validate, improved_kmeans
from repcam_core.registry import Registry

ClusterFn = Callable[[np.ndarray, int, int, int, int], ClusterResult]
"""``fn(B, n_clusters, min_size, seed, n_init) -> ClusterResult``."""

CLUSTERINGS: Registry[ClusterFn] = Registry("clustering algorithm")
DEFAULT_CLUSTERING = "improved-kmeans"


def cluster_classes(name: str, B: np.ndarray, n_clusters: int, min_size: int = 1, seed: int = 0,
                    n_init: int = 1) -> ClusterResult:
    """Cluster the classes of B with the algorithm registered as ``name``.

    Raises:
        UnknownNameError: for a name not in :data:`CLUSTERINGS`.
        ConfigError: for a non-square or non-finite B, or impossible N / min_size.
    """
    return CLUSTERINGS.get(name)(B, n_clusters, min_size, seed, n_init)


@CLUSTERINGS.register("improved-kmeans")
def _improved(B: np.ndarray, n_clusters: int, min_size: int, seed: int, n_init: int) -> ClusterResult:
    return improved_kmeans(B, n_clusters, min_size=min_size, seed=seed, n_init=n_init)


@CLUSTERINGS.register("spectral")
def _spectral(B: np.ndarray, n_clusters: int, min_size: int, seed: int, n_init: int) -> ClusterResult:
    from sklearn.cluster import SpectralClustering

    A = _checked(B, n_clusters, min_size)
    if n_clusters == 1:
        return _result(np.zeros(len(A), np.int64))
    model = SpectralClustering(n_clusters=n_clusters, affinity="precomputed", random_state=seed,
                               n_init=max(1, n_init), assign_labels="kmeans")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not fully connected.*")
        warnings.filterwarnings("ignore", message=".*k >= N.*")  # N = C clusters: scipy's eigh instead
        return _result(model.fit_predict(A))


@CLUSTERINGS.register("agglomerative")
def _agglomerative(B: np.ndarray, n_clusters: int, min_size: int, seed: int, n_init: int) -> ClusterResult:
    from sklearn.cluster import AgglomerativeClustering

    _checked(B, n_clusters, min_size)
    if n_clusters == 1:
        return _result(np.zeros(len(B), np.int64))
    model = AgglomerativeClustering(n_clusters=n_clusters, metric="precomputed", linkage="average")
    return _result(model.fit_predict(class_distance(B)))


def class_distance(B: np.ndarray) -> np.ndarray:
    """``[C, C]`` distance in [0, 1] between classes: ``1 - S / max(S)`` over the symmetrised
    row-normalised B (see the module docstring), zero diagonal. All ones off the diagonal when B
    has no off-diagonal mass."""
    from repcam_core.method.similarity import normalise_rows

    _symmetric_similarity(B)  # validates B
    S = _symmetric_similarity(normalise_rows(B))
    top = S.max()
    D = 1.0 - (S / top if top > 0 else S)
    np.fill_diagonal(D, 0.0)
    return D


def smallest_cluster(labels: np.ndarray, n_clusters: int) -> int:
    """Members of the smallest of the ``n_clusters`` clusters (0 when one is empty)."""
    return int(np.bincount(np.asarray(labels), minlength=n_clusters).min())


def relabel(labels: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered ``0, 1, ...`` in order of first appearance along the classes."""
    labels = np.asarray(labels)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def _checked(B: np.ndarray, n_clusters: int, min_size: int) -> np.ndarray:
    A = _symmetric_similarity(B)
    _validate(A.shape[0], n_clusters, min_size, max_iter=1)
    if (A < 0).any():
        from repcam_core.errors import ConfigError

        raise ConfigError("similarity matrix has negative off-diagonal values; affinities must be >= 0")
    return A


def _result(labels: np.ndarray) -> ClusterResult:
    return ClusterResult(labels=relabel(labels), iterations=1, converged=True, moves=0)
