"""The one typed configuration passed down through every RepCAM step.

A :class:`RunConfig` fully describes an experiment. Every artifact in the cache is keyed by the
subset of it that produced the artifact and stores that subset beside it, so a run can always be
traced back to (and rebuilt from) its configuration.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Mapping

from repcam_core.errors import ConfigError
from repcam_core.schema import check_types

BinaryInit = Literal["imagenet", "multiclass", "scratch"]
SCHEDULES = ("plateau", "onecycle")
BINARY_HEADS = ("zero", "probe")
HOLDOUT_SCOPES = ("similarity", "all")
PRESETS = ("embedded", "paper", "photos")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings for the multi-class model (builds B, gives the Baseline) and the
    binary pair models. Defaults are the fast embedded preset; ``paper_train()`` gives sec. 4.2.

    ``schedule``: "plateau" (lr x ``plateau_factor`` after ``plateau_patience`` stalled epochs) or
    "onecycle" (warm-up to ``lr`` then cosine annealing over the epochs, for the multi-class model).
    ``binary_head``: how a binary model's new 2-way head starts: "zero", or "probe" (a logistic
    regression fitted on the initial model's pooled features of the pair's training images, then
    everything fine-tuned: linear probing then fine-tuning).
    ``binary_frozen_batchnorm``: a binary model's BatchNorm layers keep their running statistics
    (those of its initial model) while it trains (eval mode; their scale and shift still train).
    In train mode a batch of two classes renormalises every feature by its own statistics, so
    the probe fitted on the initial model's features misclassifies the pair's training images
    and the stopping rule waits epochs for the body to adapt (figures in :func:`photos_config`).
    """

    lr: float = 2e-3
    batch_size: int = 32
    epochs: int = 15
    weight_decay: float = 0.0
    plateau_patience: int = 5
    plateau_factor: float = 0.5
    hflip: bool = True
    multiclass_init: BinaryInit = "scratch"
    binary_lr: float = 1e-4
    binary_max_epochs: int = 10
    binary_stop_accuracy: float = 0.95
    binary_init: BinaryInit = "multiclass"
    schedule: str = "plateau"
    binary_head: str = "probe"
    binary_frozen_batchnorm: bool = False

    def __post_init__(self) -> None:
        _check(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        _check(self.binary_head in BINARY_HEADS,
               f"binary head must be one of {', '.join(BINARY_HEADS)}, got {self.binary_head!r}")
        _check(self.lr > 0 and self.binary_lr > 0, "learning rates must be > 0")
        _check(self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}")
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _check(self.binary_max_epochs >= 1, f"binary max epochs must be >= 1, got {self.binary_max_epochs}")
        _check(0 < self.binary_stop_accuracy <= 1, "binary stop accuracy must be in (0, 1]")
        for name in ("binary_init", "multiclass_init"):
            value = getattr(self, name)
            _check(value in ("imagenet", "multiclass", "scratch"),
                   f"{name} must be imagenet, multiclass or scratch, got {value!r}")
        _check(self.multiclass_init != "multiclass", "the multi-class model cannot be initialised from itself")


@dataclass(frozen=True)
class RunConfig:
    """One experiment: data, backbone, method settings and training.

    ``classes``: "" (every class of the dataset), "auto" (the classes that have single-label
    training images: for partial real data) or comma-separated class names.
    ``cluster_restarts``: random initial partitions of the improved k-means; the one with the
    highest within-cluster average similarity is kept (1 is the paper's single run).
    ``clustering``: the algorithm that clusters B for S-k, a name of
    :data:`repcam_core.method.clusterers.CLUSTERINGS` (default the paper's improved k-means).
    ``similarity_holdout``: share of each class's single-label training images kept out of the
    training of B's multi-class model and used to compute B (0, the default: B from the Baseline's
    own multi-class model on the training images, as eq. 2 reads). A model that fits its training
    set puts almost no plain-softmax mass off the diagonal on those images; a held-out share (the
    earlier default, 0.3, which needs a second multi-class model) or a softmax temperature (below,
    the default) recovers the class structure.
    ``holdout_scope``: "similarity" keeps that share out of B's own multi-class model only (a
    second multi-class model beside the Baseline's); "all" keeps it out of every model (the
    Baseline's multi-class model then also builds B, and binary models train on the same images).
    ``similarity_temperature``: T of the softmax that builds B (eq. 2 is T = 1; default 3). T > 1
    reads the similarity a model keeps in its logits even on images it fits ("dark knowledge", as
    in distillation), so B comes from the Baseline's own model on its own training images: one
    multi-class model instead of two (measured in bench/RESULTS.md, "Results history: embedded default": 109 of the 111 mode x
    protocol means within 1 pt of the held-out B's, two at -1.06).

    ``dataset`` is ``"embedded"`` (the generated world, the default), a VOC-layout directory
    (``PATH`` or ``voc:PATH``), a COCO directory (``coco:PATH``) or an Oxford-IIIT Pet directory
    (``pets:PATH``). ``eval_split`` ``"val"`` (the default) means ``"test"`` with ``pets:`` (it
    has no ``val``; :func:`repcam_core.data.sources.default_eval_split`).

    ``calibration_split``: where the calibrated protocol chooses each mode's threshold; "" picks
    the dataset's default (:mod:`repcam_core.data.calibration`), "none" turns it off.
    ``bootstrap``: resamples of the evaluation images (within each class) behind every
    confidence interval and paired comparison (:mod:`repcam_core.evaluation.protocols`).
    """

    dataset: str = "embedded"
    backbone: str = "tinynet"
    similarity_backbone: str | None = None
    image_size: int = 64
    train_split: str = "train"
    eval_split: str = "val"
    seed: int = 0
    n_clusters: int = 4
    min_cluster_size: int = 4
    cluster_restarts: int = 10
    clustering: str = "improved-kmeans"
    n_random: int = 4
    similarity_holdout: float = 0.0
    holdout_scope: str = "similarity"
    similarity_temperature: float = 3.0
    threshold: float = 0.15
    calibration_split: str = ""
    bootstrap: int = 1000
    cam_method: str = "gradcam"
    classes: str = ""
    device: str = "auto"
    preset: str = "embedded"
    world: Mapping[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if isinstance(self.train, Mapping):  # RunConfig(train={"epochs": 5}) as a convenience
            object.__setattr__(self, "train", replace(TrainConfig(), **self.train))
        if isinstance(self.dataset, str) and isinstance(self.eval_split, str):
            from repcam_core.data.sources import default_eval_split  # a string rule; opens nothing

            object.__setattr__(self, "eval_split", default_eval_split(self.dataset, self.eval_split))
        _check(isinstance(self.train, TrainConfig), "train must be a TrainConfig or a mapping of its fields")
        _check(self.image_size >= 16, f"image size must be >= 16, got {self.image_size}")
        _check(self.n_clusters >= 1, f"number of clusters N must be >= 1, got {self.n_clusters}")
        _check(self.min_cluster_size >= 1, f"minimum cluster size must be >= 1, got {self.min_cluster_size}")
        _check(self.cluster_restarts >= 1, f"cluster restarts must be >= 1, got {self.cluster_restarts}")
        from repcam_core.method.clusterers import CLUSTERINGS  # a registry of names; no sklearn import

        _check(self.clustering in CLUSTERINGS, f"unknown clustering algorithm {self.clustering!r}; "
                                               f"choose one of: {', '.join(CLUSTERINGS.names())}")
        _check(self.n_random >= 1, f"number of random classes must be >= 1, got {self.n_random}")
        _check(self.similarity_temperature > 0,
               f"similarity temperature must be > 0, got {self.similarity_temperature}")
        _check(self.holdout_scope in HOLDOUT_SCOPES,
               f"holdout scope must be one of {', '.join(HOLDOUT_SCOPES)}, got {self.holdout_scope!r}")
        _check(0.0 <= self.similarity_holdout < 1.0,
               f"similarity holdout must be in [0, 1), got {self.similarity_holdout}")
        _check(0.0 <= self.threshold <= 1.0, f"threshold must be in [0, 1], got {self.threshold}")
        _check(self.bootstrap >= 100, f"bootstrap resamples must be >= 100, got {self.bootstrap}")
        _check(self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
               f"device must be auto, cpu or cuda, got {self.device!r}")
        _check(self.preset in PRESETS, f"unknown preset {self.preset!r}; choose one of: {', '.join(PRESETS)}")

    @property
    def sim_backbone(self) -> str:
        """Backbone of the multi-class model that builds B (the paper uses VGG-19)."""
        return self.similarity_backbone or self.backbone

    def clustering_options(self) -> dict[str, Any]:
        """The clustering options that differ from the defaults, algorithm first: ``{"algorithm":
        name, "restarts": n}`` or part of it. The keys of clusters and of the results read from them
        carry these (a default is left out, so caches written before the option existed stay valid)."""
        defaults = RunConfig.__dataclass_fields__
        out: dict[str, Any] = {}
        if self.clustering != defaults["clustering"].default:
            out["algorithm"] = self.clustering
        if self.cluster_restarts != defaults["cluster_restarts"].default:
            out["restarts"] = self.cluster_restarts
        return out

    def with_(self, **changes: Any) -> "RunConfig":
        """A copy with some fields changed (``train`` may be given as a dict of its fields)."""
        if isinstance(changes.get("train"), Mapping):
            changes["train"] = replace(self.train, **changes["train"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["world"] = dict(self.world)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunConfig":
        _check(isinstance(data, Mapping),
               f"a configuration is a JSON object of RunConfig fields, got {type(data).__name__}")
        check_types(cls, data)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        _check(not unknown, f"unknown configuration keys: {', '.join(sorted(unknown))}")
        kwargs = dict(data)
        if "train" in kwargs and isinstance(kwargs["train"], Mapping):
            tknown = {f.name for f in fields(TrainConfig)}
            tunknown = set(kwargs["train"]) - tknown
            _check(not tunknown, f"unknown train configuration keys: {', '.join(sorted(tunknown))}")
            check_types(TrainConfig, kwargs["train"], prefix="train.")
            kwargs["train"] = TrainConfig(**kwargs["train"])
        return cls(**kwargs)


def paper_config(**overrides: Any) -> RunConfig:
    """The paper's protocol (sec. 4.2-4.3): 224 crop, batch 24, lr 1e-4, plateau x0.5 after 5
    stalled epochs, 200 epochs for the multi-class VGG-19 that builds B, binary models from
    ImageNet weights stopped at train accuracy > 0.95 or 10 epochs, 4 clusters of >= 4 classes."""
    train = TrainConfig(lr=1e-4, batch_size=24, epochs=200, plateau_patience=5, plateau_factor=0.5,
                        multiclass_init="imagenet", binary_lr=1e-4, binary_max_epochs=10,
                        binary_stop_accuracy=0.95, binary_init="imagenet", binary_head="zero")
    # B as the embedded default computed it before: a held-out 30 % and eq. 2's plain softmax (T = 1)
    base = RunConfig(backbone="resnet50", similarity_backbone="vgg19", image_size=224, n_clusters=4,
                     min_cluster_size=4, preset="paper", train=train, similarity_holdout=0.3,
                     similarity_temperature=1.0)
    return base.with_(**overrides) if overrides else base


def photos_config(**overrides: Any) -> RunConfig:
    """Real photos with an ImageNet backbone on a CPU: the paper's choices where they fit.

    Sized so that a cold run of one seed with every mode on MSRC-v2 (14 classes; 233 training,
    92 calibration, 157 evaluation images) takes at most 10 minutes on a 2-core CPU: measured
    407 s, of which 283 s for the 91 binary models with their maps, 44 s for the multi-class
    model and 52 s for the contrast maps (``docs/results/photos-preset-msrc-v2.json``; docs/real-data.md,
    "EfficientNet-Lite0 and the photos preset"). The choices:

    * backbone ``efficientnet_lite0`` with its ImageNet weights (the one ImageNet checkpoint
      installable here), 224 px crops: the paper's size and the checkpoint's;
    * multi-class model: ImageNet initialisation and batch 24 as the paper; Adam at lr 3e-4 for
      3 epochs instead of 1e-4 for 200 (about 15 s an epoch here). Measured on MSRC-v2: 3e-4 x 3
      epochs reaches training accuracy 0.978 in 44 s, Baseline 59.82 % at 0.15 (calibrated
      60.89, AUC 43.39); 1e-4 x 5 epochs 0.961 in 63 s, 57.62 (57.95, 38.29); 1e-4 x 3 epochs
      0.900, 54.56 (54.47, 34.14);
    * binary models as the paper: ImageNet initialisation, lr 1e-4, stopped at training accuracy
      > 0.95 or after 10 epochs; their head starts as a linear probe on the ImageNet features
      ("probe") and their BatchNorm statistics stay ImageNet's (``binary_frozen_batchnorm``).
      Measured on 6 MSRC classes (15 pairs; one seed, fixed threshold): probe + frozen statistics
      stops every pair after 1 epoch (2.0 s of training a pair), S-1+F 57.86, Top1 61.35; probe
      with batch statistics 1-8 epochs (6.6 s), 57.17, 61.21; zero head + frozen 2-9 epochs
      (4.3 s), 53.96, 60.24; zero head with batch statistics (as the paper preset) 2-10 epochs
      (8.5 s, 4 pairs at the cap), 51.28, 54.26. For 91 pairs the other three would spend 6.4
      to 12.9 minutes on training alone;
    * B as the defaults compute it, from the Baseline's own model on its training images at
      softmax temperature 3: after 3 epochs it is far from diagonal (the diagonal holds 32 % of
      its mass; 88 % at T = 1, eq. 2) and ranks cow-sheep, cow-dog, book-sign, cat-dog, bicycle-car
      and aeroplane-boat among its most similar pairs, so no held-out share (and no second
      multi-class model) is needed;
    * clusters as the paper (4 of at least 4 classes): 14 classes allow at most 4 x 3, so MSRC-v2
      needs ``--min-cluster-size 3`` (or the rule that adapts modes to the number of classes).
    """
    train = TrainConfig(lr=3e-4, batch_size=24, epochs=3, plateau_patience=5, plateau_factor=0.5,
                        multiclass_init="imagenet", binary_lr=1e-4, binary_max_epochs=10,
                        binary_stop_accuracy=0.95, binary_init="imagenet", binary_head="probe",
                        binary_frozen_batchnorm=True)
    base = RunConfig(backbone="efficientnet_lite0", image_size=224, preset="photos", train=train,
                     similarity_temperature=3.0, similarity_holdout=0.0)
    return base.with_(**overrides) if overrides else base


def preset_config(name: str, **overrides: Any) -> RunConfig:
    """The RunConfig of preset ``name`` (one of :data:`PRESETS`), with ``overrides``."""
    makers = {"embedded": RunConfig, "paper": paper_config, "photos": photos_config}
    _check(name in makers, f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return makers[name](**overrides)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def read_config_json(path: str | Path, what: str = "configuration file") -> Any:
    """The JSON value in ``path``; one-line ConfigError naming the file when it is missing,
    unreadable, not UTF-8 or not JSON."""
    path = Path(path).expanduser()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the {what} {path} is not UTF-8 text (JSON of RunConfig.to_dict() expected)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the {what} {path} is not valid JSON: {exc.msg} at line {exc.lineno} column "
                          f"{exc.colno}") from None
    except RecursionError:
        raise ConfigError(f"the {what} {path} is nested too deeply to be a configuration") from None


def config_from_data(data: Any, path: str | Path, what: str = "configuration file") -> RunConfig:
    """``RunConfig.from_dict(data)`` (world settings checked too), errors naming ``path``.

    A file need not hold every field: those it leaves out come from its ``"preset"`` (one of
    :data:`PRESETS`; default ``embedded``), so ``{"preset": "photos", "dataset": "pets:DIR"}`` is
    the photos preset on that dataset. A whole ``RunConfig.to_dict()`` gives itself back."""
    try:
        if isinstance(data, Mapping) and data.get("preset") in PRESETS:
            base = preset_config(data["preset"]).to_dict()
            merged = {**base, **data}
            if isinstance(data.get("train"), Mapping):
                merged["train"] = {**base["train"], **data["train"]}
            data = merged
        config = RunConfig.from_dict(data)
        if config.world:
            from repcam_core.data.world import WorldConfig

            WorldConfig.from_dict(dict(config.world))
    except ConfigError as exc:
        raise ConfigError(f"the {what} {path}: {exc}") from None
    except TypeError as exc:  # a field the checks above do not describe
        raise ConfigError(f"the {what} {path}: {exc}") from None
    return config


def load_config_file(path: str | Path, what: str = "configuration file") -> RunConfig:
    """The RunConfig in a JSON file of ``RunConfig.to_dict()``; one-line ConfigError naming the
    file when it is missing, unreadable, not JSON, or holds wrong keys or values."""
    return config_from_data(read_config_json(path, what), Path(path).expanduser(), what)
