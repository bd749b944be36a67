"""The pipeline: data, models, similarity B and clustering, each built once and cached.

A :class:`Pipeline` is built from one :class:`RunConfig`. Every artifact it produces is looked up
in the :class:`ArtifactCache` by the configuration subset that determines it, so the CLI and the
app share work, and an interrupted run resumes where it stopped. The data side (dataset, splits,
fingerprints, data key) is :class:`~repcam_core.running.pipeline_data.PipelineData`, its base; map
computation and evaluation live in :mod:`repcam_core.running.experiment`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from repcam_core.errors import ConfigError
from repcam_core.method.clusterers import cluster_classes
from repcam_core.method.clustering import ClusterResult
from repcam_core.method.feasibility import cluster_sizes
from repcam_core.method.similarity import similarity_matrix
from repcam_core.models.backbones import BACKBONES, BackboneSpec, create_model, get_module, replace_head
from repcam_core.models.store import load_model as _load_model, save_model as _save_model, train_log  # noqa: F401
from repcam_core.models.train import (PROBE_FEATURES_BYTES, FeatureMemo, fit, fit_probe, pooled_features,
                                      predict_proba, resolve_device)
from repcam_core.running.config import RunConfig
from repcam_core.running.pipeline_data import PipelineData
from repcam_core.running.prebuilt import Prebuilt, fill as fill_prebuilt, resolve as resolve_prebuilt
from repcam_core.running.progress import Progress
from repcam_core.storage.cache import ArtifactCache

if TYPE_CHECKING:  # torch is imported where data is decoded or a model is used: a run that finds
    import torch    # everything in the cache (keys, results, protocols) never imports it
    from torch import nn

MAX_RESIDENT_MODELS = 8
"""Binary models kept in memory at once (least recently used ones are dropped)."""


class Pipeline(PipelineData):
    """Everything one configuration needs, computed lazily and cached on disk."""

    def __init__(self, config: RunConfig, cache: ArtifactCache | str | Path | None = None,
                 progress: Progress | None = None, prebuilt: Prebuilt | bool | None = None) -> None:
        """``prebuilt``: install shipped artifacts that match (:mod:`repcam_core.running.prebuilt`; None: as
        ``$REPCAM_PREBUILT`` says, False: train everything here)."""
        super().__init__(config, cache if isinstance(cache, ArtifactCache) else ArtifactCache(cache), progress)
        self.prebuilt = resolve_prebuilt(prebuilt)
        self.spec: BackboneSpec = BACKBONES.get(config.backbone)
        BACKBONES.get(config.sim_backbone)
        from repcam_core.cam.methods import CAM_METHODS

        CAM_METHODS.get(config.cam_method)
        if config.device.startswith("cuda"):
            self.device  # noqa: B018 - asking for CUDA without one fails here, at once
        self._models: OrderedDict[str, nn.Module] = OrderedDict()
        self._lock = threading.RLock()
        self._probe_features: FeatureMemo | None = None  # while sharing_features() holds
        self._sharing = 0

    @cached_property
    def device(self) -> torch.device:
        """The torch device (``auto``: CUDA when there); cuDNN autotuning on CUDA (fixed crop sizes:
        the fastest kernels are picked once)."""
        device = resolve_device(self.config.device)
        if device.type == "cuda":
            import torch

            torch.backends.cudnn.benchmark = True
        return device

    # -------------------------------------------------------------- models
    def _train_key(self, binary: bool) -> dict[str, Any]:
        t = self.config.train
        common = {"batch_size": t.batch_size, "hflip": t.hflip, "seed": self.config.seed}
        if binary:
            key = {**common, "lr": t.binary_lr, "max_epochs": t.binary_max_epochs,
                   "stop_accuracy": t.binary_stop_accuracy, "init": t.binary_init, "head": t.binary_head,
                   **({"frozen_bn": True} if t.binary_frozen_batchnorm else {})}  # earlier keys stay valid
            if self.train_holdout > 0:  # binary models see the same images as the multi-class one
                key["holdout"] = self.train_holdout
            return key
        key = {**common, "lr": t.lr, "epochs": t.epochs, "weight_decay": t.weight_decay,
               "plateau": [t.plateau_patience, t.plateau_factor], "init": t.multiclass_init}
        if t.schedule != "plateau":
            key["schedule"] = t.schedule
        return key

    def multiclass_key(self, backbone: str | None = None, holdout: float | None = None) -> dict[str, Any]:
        holdout = self.train_holdout if holdout is None else holdout
        key = {"data": self.data_key, "backbone": backbone or self.config.backbone,
               "train": self._train_key(binary=False)}
        if holdout > 0:
            key["holdout"] = holdout
        return key

    def binary_key(self, a: int, b: int) -> dict[str, Any]:
        a, b = sorted((a, b))
        key = {"data": self.data_key, "backbone": self.config.backbone, "pair": [a, b],
               "train": self._train_key(binary=True)}
        if self.config.train.binary_init == "multiclass":
            key["init_from"] = self.multiclass_key()
        return key

    def multiclass_model(self, backbone: str | None = None, holdout: float | None = None) -> nn.Module:
        """The multi-class classifier on single-label training images (the Baseline; B's model
        is trained without the ``holdout`` share of each class, on which B is then computed).
        ``holdout`` defaults to :attr:`train_holdout` (0 unless every model keeps the share out)."""
        backbone = backbone or self.config.backbone
        holdout = self.train_holdout if holdout is None else holdout
        key = self.multiclass_key(backbone, holdout)
        name = f"multiclass:{backbone}:{holdout}"
        with self._lock:
            if name in self._models:
                self.cache.note_use("multiclass", key)  # the entry being created depends on it
                return self._models[name]

            def create(tmp: Path) -> None:
                if fill_prebuilt(self, "multiclass", key, tmp):  # the shipped model, when it matches
                    return
                import torch

                self.check_training_data()
                parts = [self.holdout_split(c, holdout)[0] for c in range(self.num_classes)]
                idx = torch.cat(parts)
                targets = torch.cat([torch.full((len(part),), c) for c, part in enumerate(parts)])
                t = self.config.train
                model = create_model(backbone, self.num_classes, init=t.multiclass_init, seed=self.config.seed)
                with self.progress.task(f"multi-class {backbone} (epochs)", t.epochs) as step:
                    log = fit(model, self.train_split.images[idx], targets, lr=t.lr, epochs=t.epochs,
                              batch_size=t.batch_size, device=self.device, seed=self.config.seed,
                              hflip=t.hflip, weight_decay=t.weight_decay, plateau_patience=t.plateau_patience,
                              plateau_factor=t.plateau_factor, on_epoch=lambda *_: step(1), schedule=t.schedule)
                _save_model(tmp, model, log)

            model = self.cache.get_or_create("multiclass", key, create,
                                             lambda p: _load_model(p, backbone, self.num_classes))
            self._keep(name, model.to(self.device).eval())
            return model

    def binary_model(self, a: int, b: int) -> nn.Module:
        """The binary classifier of the pair (a, b); output 0 is the lower class index."""
        if a == b:
            raise ConfigError(f"a binary model needs two different classes, got {a} twice")
        a, b = sorted((a, b))
        name = f"binary:{a}-{b}"
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                self.cache.note_use("binary", self.binary_key(a, b))
                return self._models[name]

            def create(tmp: Path) -> None:
                import torch

                self.check_training_data([a, b])
                model = self._binary_init(a, b).to(self.device)  # its head meets the cached features there
                h = self.train_holdout
                ia, ib = self.holdout_split(a, h)[0], self.holdout_split(b, h)[0]
                images = self.train_split.images[torch.cat([ia, ib])]
                targets = torch.cat([torch.zeros(len(ia)), torch.ones(len(ib))]).long()
                t = self.config.train
                if t.binary_head == "probe":
                    head = get_module(model, self.spec.head)
                    fit_probe(head, self._pair_features(model, head, a, b), targets)
                log = fit(model, images, targets, lr=t.binary_lr, epochs=t.binary_max_epochs,
                          batch_size=t.batch_size, device=self.device, seed=self.config.seed + 7919 * a + b,
                          hflip=t.hflip, plateau_patience=10 ** 6, stop_accuracy=t.binary_stop_accuracy,
                          frozen_batchnorm=t.binary_frozen_batchnorm)
                _save_model(tmp, model, log)

            model = self.cache.get_or_create("binary", self.binary_key(a, b), create,
                                             lambda p: _load_model(p, self.config.backbone, 2))
            self._keep(name, model.to(self.device).eval())
            return model

    def _pair_features(self, model: nn.Module, head: nn.Module, a: int, b: int) -> torch.Tensor:
        """The probe's input for pair (a, b): ``model``'s pooled features [n_a + n_b, D] of the pair's
        training images, class a's first. Binary models initialised from the multi-class model (or
        from ImageNet) all start from the same body, so within :meth:`sharing_features` each class's
        are computed once (a pairwise run would otherwise pass every training image through that
        body C - 1 times)."""
        import torch

        shared = self.config.train.binary_init in ("multiclass", "imagenet")

        def compute(c: int) -> torch.Tensor:
            images = self.train_split.images[self.holdout_split(c, self.train_holdout)[0]]
            return pooled_features(model, head, images, self.device)

        memo = self._probe_features if shared else None
        return torch.cat([memo.get(c, lambda c=c: compute(c)) if memo is not None else compute(c) for c in (a, b)])

    @contextlib.contextmanager
    def sharing_features(self) -> Iterator[None]:
        """Within it, binary models share each class's probe features (:meth:`_pair_features`, at
        most ``PROBE_FEATURES_BYTES``); on leaving the outermost one they are freed. Runs that train
        many pairs hold it (:meth:`repcam_core.running.experiment.Experiment.ensure_pairs`); a lone
        binary model computes its two classes' features and keeps nothing."""
        with self._lock:
            self._sharing += 1
            if self._probe_features is None:
                self._probe_features = FeatureMemo(PROBE_FEATURES_BYTES)
        try:
            yield
        finally:
            with self._lock:
                self._sharing -= 1
                if self._sharing == 0:
                    self._probe_features = None

    def has_binary(self, a: int, b: int) -> bool:
        return self.cache.has("binary", self.binary_key(a, b))

    def _binary_init(self, a: int, b: int) -> nn.Module:
        init = self.config.train.binary_init
        seed = self.config.seed + 7919 * a + b
        if init == "multiclass":
            model = copy.deepcopy(self.multiclass_model()).cpu()
        else:
            model = create_model(self.config.backbone, 2, init=init, seed=seed)
        return replace_head(model, self.spec, 2, seed=seed, zero=True)

    def _keep(self, name: str, model: nn.Module) -> None:
        self._models[name] = model
        self._models.move_to_end(name)
        binaries = [k for k in self._models if k.startswith("binary:")]
        while len(binaries) > MAX_RESIDENT_MODELS:
            self._models.pop(binaries.pop(0))

    # ------------------------------------------------------- similarity, S
    def similarity_key(self) -> dict[str, Any]:
        h = self.config.similarity_holdout
        key = {"model": self.multiclass_key(self.config.sim_backbone, h),
               "on": "train-single-label" + (f"-heldout-{h}" if h > 0 else "")}
        if self.config.similarity_temperature != 1.0:
            key["temperature"] = self.config.similarity_temperature
        return key

    def similarity(self) -> np.ndarray:
        """B (eq. 2) [C, C]: summed softmax mass of class i's images on class j, over the held-out
        share of the single-label training images (``similarity_holdout``; all of them when 0)."""

        def create(tmp: Path) -> None:
            if fill_prebuilt(self, "similarity", self.similarity_key(), tmp):  # over the shipped model
                return
            import torch

            h = self.config.similarity_holdout
            model = self.multiclass_model(self.config.sim_backbone, h)
            parts = [self.holdout_split(c, h)[1] for c in range(self.num_classes)]
            idx = torch.cat(parts)
            labels = np.concatenate([np.full(len(part), c) for c, part in enumerate(parts)])
            probs = predict_proba(model, self.train_split.images[idx], self.device,
                                  temperature=self.config.similarity_temperature).numpy()
            B = similarity_matrix(probs, labels)
            (tmp / "similarity.json").write_text(json.dumps({"B": B.tolist(), "classes": list(self.class_names)}))

        return self.cache.get_or_create("similarity", self.similarity_key(), create,
                                        lambda p: np.array(json.loads((p / "similarity.json").read_text())["B"]))

    def clustering_key(self, n_clusters: int, min_size: int, seed: int) -> dict[str, Any]:
        return {"similarity": self.similarity_key(), "n": n_clusters, "min_size": min_size, "seed": seed,
                "restarts": self.config.cluster_restarts, **self.config.clustering_options()}

    def clustering(self, n_clusters: int | None = None, min_size: int | None = None,
                   seed: int | None = None) -> ClusterResult:
        """B clustered by the configuration's algorithm (default the improved k-means, sec. 3.1.3);
        N, minimum size and seed default to the configuration's, the minimum lowered as runs lower it."""
        n = self.config.n_clusters if n_clusters is None else n_clusters
        m = cluster_sizes(n, self.config.min_cluster_size, self.num_classes)[1] if min_size is None else min_size
        s = self.config.seed if seed is None else seed

        def create(tmp: Path) -> None:
            if fill_prebuilt(self, "clustering", self.clustering_key(n, m, s), tmp):  # over the shipped B
                return
            res = cluster_classes(self.config.clustering, self.similarity(), n, min_size=m, seed=s,
                                  n_init=self.config.cluster_restarts)
            (tmp / "clustering.json").write_text(json.dumps({
                "labels": res.labels.tolist(), "iterations": res.iterations, "converged": res.converged,
                "moves": res.moves}))

        def load(p: Path) -> ClusterResult:
            d = json.loads((p / "clustering.json").read_text())
            return ClusterResult(labels=np.array(d["labels"]), iterations=d["iterations"],
                                 converged=d["converged"], moves=d["moves"])

        return self.cache.get_or_create("clustering", self.clustering_key(n, m, s), create, load)

