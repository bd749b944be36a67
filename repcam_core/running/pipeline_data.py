"""The data side of a :class:`~repcam_core.running.pipeline.Pipeline`: one configuration's dataset.

The opened dataset and the classes the configuration uses, its decoded splits (training,
evaluation, calibration; decoded once into the cache), each split's fingerprint (computed once
per pipeline) and the data key every artifact's cache key starts from.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from repcam_core.data.sources import dataset_pending, open_dataset
from repcam_core.errors import ConfigError, DatasetError, UnknownNameError
from repcam_core.running.config import RunConfig
from repcam_core.running.progress import NullProgress, Progress
from repcam_core.storage.cache import ArtifactCache

if TYPE_CHECKING:  # torch is imported where data is decoded: a run that finds everything in the
    import torch    # cache never imports it

    from repcam_core.data.dataset import Split


class PipelineData:
    """A configuration's data, opened and decoded lazily (the base of a Pipeline)."""

    def __init__(self, config: RunConfig, cache: ArtifactCache, progress: Progress | None = None) -> None:
        self.config = config
        self.cache = cache
        self.progress: Progress = progress or NullProgress()
        self._fingerprints: dict[str, str] = {}

    @cached_property
    def dataset(self):
        return open_dataset(self.config.dataset, self.cache.root, self.config.world)

    @property
    def dataset_pending(self) -> bool:
        """Whether opening the dataset would first generate the embedded world (one ``stat``)."""
        return "dataset" not in self.__dict__ and dataset_pending(self.config.dataset, self.cache.root,
                                                                   self.config.world)

    @property
    def class_names(self) -> tuple[str, ...]:
        names = tuple(self.dataset.class_names)
        return names if self.class_subset is None else tuple(names[c] for c in self.class_subset)

    @cached_property
    def class_subset(self) -> list[int] | None:
        """Dataset class indices this configuration uses (None: all of them); see RunConfig.classes."""
        spec = self.config.classes.strip()
        if not spec:
            return None
        names = list(self.dataset.class_names)
        if spec == "auto":
            counts = self._split(self.config.train_split, subset=False).single_label_counts()
            keep = [c for c, n in enumerate(counts) if n > 0]
        else:
            wanted = [n.strip() for n in spec.split(",") if n.strip()]
            unknown = [n for n in wanted if n not in names]
            if unknown:
                raise UnknownNameError(f"unknown class(es) {', '.join(map(repr, unknown))}; the dataset has: "
                                       f"{', '.join(names)}")
            keep = [names.index(n) for n in dict.fromkeys(wanted)]
        if len(keep) < 2:
            raise DatasetError(f"--classes {spec!r} leaves {len(keep)} class(es) of {self.dataset.root}; "
                               f"at least 2 are needed")
        return keep

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def _split(self, name: str, subset: bool = True) -> Split:
        from repcam_core.data.dataset import load_split

        with self.progress.task(f"decoding {name} images", 1) as step:
            split = load_split(self.dataset, name, self.config.image_size, cache_dir=self.cache.root / "decoded",
                               cache_root=self.cache.root, fingerprint=self.fingerprint(name))
            step(1)
        return split.subset(self.class_subset) if subset and self.class_subset is not None else split

    def decode(self, split: str) -> None:
        """Decode ``split`` into the cache now, without keeping it (for another process's work)."""
        self._split(split, subset=False)

    def check_decoded(self) -> None:
        """Check the decoded files of the training, evaluation and calibration splits (torch-free);
        a damaged one is decoded again now (with the warning that names it). What a run calls when
        it finds every result in the cache and so decodes nothing itself."""
        from repcam_core.data.decoded_files import cache_path, intact

        names = [self.config.train_split, self.config.eval_split, self.calibration_split_name]
        for name in dict.fromkeys(n for n in names if n):
            path = cache_path(self.dataset, name, self.config.image_size, self.cache.root / "decoded",
                              self.fingerprint(name))
            if not intact(path):
                self._split(name, subset=False)

    @cached_property
    def train_split(self) -> Split:
        return self._split(self.config.train_split)

    @cached_property
    def eval_split(self) -> Split:
        return self._split(self.config.eval_split)

    @cached_property
    def calibration_split_name(self) -> str | None:
        """Where the calibrated protocol picks thresholds (None: off); see data/calibration.py."""
        from repcam_core.data.calibration import resolve_calibration_split
        from repcam_core.data.sources import parse_dataset_spec

        kind = parse_dataset_spec(self.config.dataset)[0]
        return resolve_calibration_split(self.dataset, kind, self.config.eval_split, self.config.calibration_split)

    @cached_property
    def calibration_split(self) -> Split | None:
        name = self.calibration_split_name
        return None if name is None else self._split(name)

    def split(self, role: str) -> Split:
        """The ``"eval"`` split or the ``"calib"`` (calibration) split."""
        if role == "eval":
            return self.eval_split
        if role == "calib" and self.calibration_split is not None:
            return self.calibration_split
        raise ConfigError(f"no {role!r} split in this configuration")

    def split_name(self, role: str) -> str:
        name = self.config.eval_split if role == "eval" else self.calibration_split_name
        if name is None:
            raise ConfigError(f"no {role!r} split in this configuration")
        return name

    def split_fingerprint(self, role: str) -> str:
        """The dataset's fingerprint of the ``role`` split (computed once per pipeline)."""
        return self.fingerprint(self.split_name(role))

    def fingerprint(self, split: str) -> str:
        """The dataset's fingerprint of ``split``, computed once per pipeline."""
        if split not in self._fingerprints:
            self._fingerprints[split] = self.dataset.fingerprint(split)
        return self._fingerprints[split]

    @cached_property
    def data_key(self) -> dict[str, Any]:
        """Identity of the data every artifact depends on."""
        ds = self.dataset
        return {
            "dataset": self.config.dataset if self.config.dataset == "embedded" else str(ds.root),
            "world": dict(self.config.world),
            "train": [self.config.train_split, self.fingerprint(self.config.train_split)],
            "eval": [self.config.eval_split, self.fingerprint(self.config.eval_split)],
            "classes": list(self.class_names),
            "image_size": self.config.image_size,
        }

    def single_label(self, c: int) -> torch.Tensor:
        """Indices of training images whose only label is class ``c``."""
        return self.train_split.single_label_indices(c)

    def check_training_data(self, classes: list[int] | None = None) -> None:
        """Raise DatasetError naming every class (of ``classes``) without single-label training images."""
        classes = list(range(self.num_classes)) if classes is None else classes
        empty = [self.class_names[c] for c in classes if len(self.single_label(c)) == 0]
        if empty:
            raise DatasetError(f"no single-label training images for class(es): {', '.join(empty)} "
                               f"(split {self.config.train_split!r} of {self.dataset.root})")

    def eval_indices(self, c: int) -> torch.Tensor:
        """Indices of evaluation images that contain class ``c``."""
        return self.eval_split.class_indices(c)

    @property
    def train_holdout(self) -> float:
        """Share of each class's single-label training images no model trains on (only B reads
        them): ``similarity_holdout`` when ``holdout_scope`` is "all", else 0."""
        return self.config.similarity_holdout if self.config.holdout_scope == "all" else 0.0

    def holdout_split(self, c: int, holdout: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Class ``c``'s single-label training images split into (fit, held out), the held-out
        share ``holdout`` drawn with the configuration's seed (at least one image on each side
        when the class has two or more; with one image both sides use it)."""
        idx = self.single_label(c)
        if holdout <= 0 or len(idx) == 0:
            return idx, idx
        if len(idx) == 1:
            return idx, idx
        import torch

        g = torch.Generator().manual_seed(self.config.seed * 1000 + c)
        perm = idx[torch.randperm(len(idx), generator=g)]
        n_out = min(len(idx) - 1, max(1, round(holdout * len(idx))))
        return perm[n_out:], perm[:n_out]
