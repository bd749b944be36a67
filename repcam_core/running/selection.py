"""Which classes a mode compares each target class with, on one pipeline's dataset.

:class:`ModeSelection` is the part of an :class:`~repcam_core.running.experiment.Experiment` that
needs no map: what the configuration offers the modes (:mod:`repcam_core.method.feasibility`), the
plan of a run (which modes run, adapted how, which are left out), and each mode's comparison
classes (:func:`repcam_core.method.modes.comparison_classes`) from B and the clusters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from repcam_core.errors import ConfigError
from repcam_core.method.feasibility import (ModePlan, Setting, check, cluster_sizes, plan_modes, random_count,
                                            rank_positions)
from repcam_core.method.modes import Mode, comparison_classes, parse_mode
from repcam_core.running.pipeline import Pipeline


class ModeSelection:
    """The selection side of the modes over pipeline ``p`` (an Experiment is one)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    @property
    def setting(self) -> Setting:
        """What this configuration offers the modes (:mod:`repcam_core.method.feasibility`)."""
        cfg = self.p.config
        return Setting(self.p.num_classes, cfg.n_clusters, cfg.min_cluster_size, cfg.n_random,
                       calibration=self.p.calibration_split_name is not None)

    def plan(self, modes: Sequence[str | Mode], optional: Sequence[str] = ()) -> ModePlan:
        """The modes this dataset runs, each one's adaptation and why any of ``optional`` (modes that
        came from a group) is left out; a refused mode not in ``optional`` raises ModeRefused (a
        ConfigError), before any training."""
        C = self.p.num_classes
        if C < 2:
            raise ConfigError(f"the dataset has {C} class(es); at least 2 are needed")
        parsed = [m if isinstance(m, Mode) else parse_mode(m) for m in modes]
        return plan_modes(parsed, self.setting, {parse_mode(m).name for m in optional})

    def needs(self, modes: Sequence[Mode]) -> None:
        """Fail fast, before any training, when a mode cannot run on this dataset."""
        self.plan(modes)

    @property
    def cluster_sizes(self) -> tuple[int, int]:
        """(N, minimum size) S-k runs with here (:func:`repcam_core.method.feasibility.cluster_sizes`)."""
        return cluster_sizes(self.p.config.n_clusters, self.p.config.min_cluster_size, self.p.num_classes)

    def adapted(self, mode: Mode) -> Mode:
        """``mode`` as it runs here: Rank's positions scaled to the classes there are."""
        if mode.kind == "rank":
            return replace(mode, positions=rank_positions(tuple(mode.positions or ()), self.p.num_classes))
        return mode

    def comparisons(self, mode: Mode, pairwise: np.ndarray | None = None) -> dict[int, list[int]]:
        """Representative classes per target class for ``mode`` (as adapted to this dataset)."""
        C, cfg = self.p.num_classes, self.p.config
        check(mode, self.setting)
        B = self.p.similarity() if mode.needs_similarity else None
        labels = self.p.clustering().labels if mode.needs_clustering else None
        mode = self.adapted(mode)
        return {c: comparison_classes(mode, c, B=B, cluster_labels=labels, pairwise=pairwise, num_classes=C,
                                      n=random_count(cfg.n_random, C), seed=cfg.seed) for c in range(C)}
