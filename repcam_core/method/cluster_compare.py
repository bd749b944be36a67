"""How good is a clustering of the classes? The registered algorithms side by side on one B.

Each algorithm of :data:`~repcam_core.method.clusterers.CLUSTERINGS` clusters B once per seed;
each run is scored by

* **within** — the improved k-means' own objective,
  :func:`~repcam_core.method.clustering.within_similarity` (higher is better);
* **silhouette** — ``sklearn.metrics.silhouette_score`` on the precomputed distance
  :func:`~repcam_core.method.clusterers.class_distance` (the one agglomerative clustering
  merges on, so it is that algorithm's home metric); NaN when a run has fewer than 2 or more
  than C - 1 non-empty clusters, where the silhouette is undefined;
* **ari**, **nmi** — adjusted Rand index and normalised mutual information (arithmetic mean
  normalisation, scikit-learn's default) against the true families, when they are known: the
  embedded world writes them into its ``world.json`` (:func:`family_labels`); NaN otherwise;
* **smallest** — members of the smallest cluster, since only the improved k-means enforces the
  minimum size.

"Several seeds with their spread": every algorithm runs for every seed given (agglomerative
clustering is deterministic, so its runs agree and its spread is 0); the summary is the mean and
the sample standard deviation (``ddof=1``; 0 for a single seed) over the runs, NaN runs left out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from repcam_core.errors import ConfigError
from repcam_core.method.clusterers import CLUSTERINGS, class_distance, cluster_classes, smallest_cluster
from repcam_core.method.clustering import within_similarity

METRICS: tuple[str, ...] = ("within", "silhouette", "ari", "nmi", "smallest")
"""Scores of one run, in table order."""
TITLES = {"within": "within-cluster similarity", "silhouette": "silhouette", "ari": "ARI", "nmi": "NMI",
          "smallest": "smallest cluster"}


@dataclass(frozen=True)
class Run:
    """One algorithm on one seed: its labels ``[C]`` and its scores (NaN where undefined)."""

    algorithm: str
    seed: int
    labels: np.ndarray
    scores: dict[str, float]


@dataclass(frozen=True)
class Comparison:
    """Every run of :func:`compare_clusterings`, by algorithm, and their summary."""

    class_names: tuple[str, ...]
    n_clusters: int
    min_size: int
    seeds: tuple[int, ...]
    runs: dict[str, list[Run]]
    truth: np.ndarray | None = None
    family_names: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        """``{algorithm: {metric: (mean, sd)}}`` over the seeds (NaN when no run defines it)."""
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for name, runs in self.runs.items():
            out[name] = {}
            for m in METRICS:
                vals = np.array([r.scores[m] for r in runs], float)
                vals = vals[np.isfinite(vals)]
                mean = float(vals.mean()) if len(vals) else math.nan
                sd = float(vals.std(ddof=1)) if len(vals) > 1 else (0.0 if len(vals) else math.nan)
                out[name][m] = (mean, sd)
        return out

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of strings ``mean ± sd`` per algorithm (metrics without truth left out)."""
        metrics = [m for m in METRICS if self.truth is not None or m not in ("ari", "nmi")]
        rows = []
        for name, stats in self.summary().items():
            rows.append([name, *[_fmt(*stats[m], digits=1 if m == "smallest" else 3) for m in metrics]])
        return ["algorithm", *[TITLES[m] for m in metrics]], rows

    def to_json(self) -> dict[str, Any]:
        names = self.class_names
        clean = lambda v: None if not math.isfinite(v) else round(float(v), 4)  # noqa: E731
        return {
            "classes": list(names),
            "n_clusters": self.n_clusters,
            "min_size": self.min_size,
            "seeds": list(self.seeds),
            "truth": None if self.truth is None else {
                (self.family_names[f] if f < len(self.family_names) else f"family{f}"):
                    [names[i] for i in np.flatnonzero(self.truth == f)] for f in range(int(self.truth.max()) + 1)},
            "summary": {a: {m: {"mean": clean(mu), "sd": clean(sd)} for m, (mu, sd) in s.items()}
                        for a, s in self.summary().items()},
            "runs": {a: [{"seed": r.seed, "scores": {m: clean(v) for m, v in r.scores.items()},
                          "clusters": [[names[i] for i in np.flatnonzero(r.labels == g)]
                                       for g in range(int(r.labels.max()) + 1)]} for r in runs]
                     for a, runs in self.runs.items()},
        }


def score(B: np.ndarray, labels: np.ndarray, n_clusters: int, truth: np.ndarray | None = None) -> dict[str, float]:
    """The scores of one clustering (see the module docstring); NaN where undefined."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

    labels = np.asarray(labels)
    used = len(np.unique(labels))
    sil = (float(silhouette_score(class_distance(B), labels, metric="precomputed"))
           if 2 <= used <= len(labels) - 1 else math.nan)
    known = truth is not None
    return {
        "within": within_similarity(B, labels),
        "silhouette": sil,
        "ari": float(adjusted_rand_score(truth, labels)) if known else math.nan,
        "nmi": float(normalized_mutual_info_score(truth, labels)) if known else math.nan,
        "smallest": float(smallest_cluster(labels, n_clusters)),
    }


def compare_clusterings(B: np.ndarray, n_clusters: int, min_size: int = 1, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                        truth: np.ndarray | None = None, n_init: int = 1,
                        algorithms: Sequence[str] | None = None, class_names: Sequence[str] | None = None,
                        family_names: Sequence[str] = ()) -> Comparison:
    """Run every algorithm (default: all registered) once per seed on B and score each run.

    ``truth`` ``[C]`` gives each class's true family (ARI and NMI are NaN without it); ``n_init``
    is passed to every algorithm (the improved k-means' restarts, spectral's k-means starts).

    Raises:
        ConfigError: for no seed, a ``truth`` of the wrong length, or impossible N / min_size.
        UnknownNameError: for an algorithm not in the registry.
    """
    C = np.asarray(B).shape[0]
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ConfigError("the clustering comparison needs at least one seed")
    if truth is not None and len(truth) != C:
        raise ConfigError(f"true families give {len(truth)} labels for {C} classes")
    names = list(CLUSTERINGS.names() if algorithms is None else algorithms)
    for name in names:
        CLUSTERINGS.get(name)
    runs: dict[str, list[Run]] = {}
    for name in names:
        runs[name] = []
        for s in seeds:
            labels = cluster_classes(name, B, n_clusters, min_size, s, n_init).labels
            runs[name].append(Run(name, s, labels, score(B, labels, n_clusters, truth)))
    return Comparison(tuple(class_names or (f"class{i}" for i in range(C))), n_clusters, min_size, seeds, runs,
                      None if truth is None else np.asarray(truth), tuple(family_names))


def compare_pipeline(pipeline: Any, seeds: Sequence[int], n_clusters: int | None = None,
                     min_size: int | None = None) -> Comparison:
    """:func:`compare_clusterings` on a :class:`~repcam_core.running.pipeline.Pipeline`'s B (computed
    through its cache), with its class names, restarts and, when its dataset records them, the
    true families. N and the minimum size default to the configuration's, the minimum lowered as a
    run lowers it when N clusters of it do not fit the classes
    (:func:`repcam_core.method.feasibility.cluster_sizes`)."""
    from repcam_core.method.feasibility import cluster_sizes

    cfg = pipeline.config
    n = cfg.n_clusters if n_clusters is None else n_clusters
    names = pipeline.class_names
    root = getattr(pipeline.dataset, "root", None)
    known = family_labels(root, names) if root is not None else None
    truth, families = known if known is not None else (None, ())
    m = cluster_sizes(n, cfg.min_cluster_size, len(names))[1] if min_size is None else min_size
    return compare_clusterings(pipeline.similarity(), n, m, seeds, truth=truth,
                               n_init=cfg.cluster_restarts, class_names=names, family_names=families)


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; ConfigError for anything else or nothing."""
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise ConfigError("the clustering comparison needs at least one seed")
    return list(dict.fromkeys(seeds))


def family_labels(root: str | Path, class_names: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """The true family of each class from ``root/world.json`` (written by the embedded world):
    (labels ``[C]``, family names), or None when the file is absent or does not name every class."""
    path = Path(root) / "world.json"
    try:
        families = json.loads(path.read_text())["families"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    family_of = {c: f for f, members in enumerate(families.values()) for c in members}
    if any(n not in family_of for n in class_names):
        return None
    labels = np.array([family_of[n] for n in class_names])
    used = sorted(set(labels.tolist()))  # a class subset may leave families out: renumber
    names = tuple(list(families)[f] for f in used)
    return np.array([used.index(v) for v in labels]), names


def _fmt(mean: float, sd: float, digits: int) -> str:
    return "n/a" if not math.isfinite(mean) else f"{mean:.{digits}f} ± {sd:.{digits}f}"
