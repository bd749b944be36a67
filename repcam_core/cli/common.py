"""Options shared by the experiment commands and the helpers that turn them into core objects.

``build_config`` is the one place where command-line options become a :class:`RunConfig`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def registries() -> tuple[list[str], list[str]]:
    from repcam_core.cam.methods import CAM_METHODS
    from repcam_core.models.backbones import BACKBONES

    return BACKBONES.names(), CAM_METHODS.names()


def add_common(p: argparse.ArgumentParser) -> None:
    backbones, methods = registries()
    g = p.add_argument_group("experiment")
    g.add_argument("--dataset", default=None,
                   help="'embedded' (default: the generated world), a VOC-layout dir, voc:DIR, coco:DIR or pets:DIR "
                        "(Oxford-IIIT Pet)")
    from repcam_core.running.config import PRESETS

    g.add_argument("--preset", choices=PRESETS, default=None,
                   help="embedded (fast CPU defaults), paper (sec. 4.2: 224 crop, batch 24, lr 1e-4, ...) or photos "
                        "(real photos on a CPU: EfficientNet-Lite0 from ImageNet, 224 crop; see docs/real-data.md)")
    g.add_argument("--config", default=None, metavar="FILE",
                   help="start from a JSON configuration (RunConfig.to_dict(), e.g. the 'config' of a results.json); "
                        "the options given override it")
    g.add_argument("--backbone", default=None, metavar="NAME", help=f"one of: {', '.join(backbones)}")
    g.add_argument("--similarity-backbone", default=None, metavar="NAME", help="backbone of the model that builds B")
    g.add_argument("--cam-method", default=None, metavar="NAME", help=f"per-layer map method: {', '.join(methods)}")
    g.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--image-size", type=int, default=None, help="crop side in pixels")
    g.add_argument("--train-split", default=None)
    g.add_argument("--eval-split", default=None)
    g.add_argument("--clusters", type=int, default=None, dest="n_clusters", help="N clusters (default 4)")
    g.add_argument("--min-cluster-size", type=int, default=None)
    from repcam_core.method.clusterers import CLUSTERINGS

    g.add_argument("--clustering", default=None, metavar="NAME",
                   help=f"algorithm that clusters B for S-k: {', '.join(CLUSTERINGS.names())} (default improved-kmeans)")
    g.add_argument("--threshold", type=float, default=None,
                   help="CAM threshold of the fixed protocol (default 0.15, the paper's)")
    g.add_argument("--calibration-split", default=None, metavar="NAME",
                   help="split the calibrated protocol picks each mode's threshold on (default: the dataset's "
                        "own, disjoint from the evaluation split; 'none' turns it off)")
    g.add_argument("--similarity-temperature", type=float, default=None, metavar="T",
                   help="softmax temperature of B (default 3: B from the Baseline's own model; 1 is eq. 2)")
    g.add_argument("--similarity-holdout", type=float, default=None, metavar="SHARE",
                   help="share of training images kept out of B's own multi-class model (default 0)")
    g.add_argument("--bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap resamples behind every confidence interval (default 1000)")
    g.add_argument("--classes", default=None,
                   help="auto (the classes with single-label training images, for partial data) or "
                        "comma-separated class names (default: every class)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=None, help="multi-class epochs")
    t.add_argument("--binary-epochs", type=int, default=None, dest="binary_max_epochs", help="binary max epochs")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--binary-lr", type=float, default=None)
    t.add_argument("--binary-init", choices=["imagenet", "multiclass", "scratch"], default=None)
    t.add_argument("--binary-head", choices=["probe", "zero"], default=None,
                   help="a binary model's new head: probe (default: logistic regression on the initial features, "
                        "then fine-tuning) or zero")
    t.add_argument("--binary-frozen-bn", action=argparse.BooleanOptionalAction, default=None,
                   dest="binary_frozen_batchnorm",
                   help="binary models keep their initial BatchNorm statistics while training (the photos preset's)")
    g.add_argument("--labels", choices=["masks", "xml"], default=None,
                   help="VOC training labels: masks (default: the segmentation split's masks) or xml "
                        "(Annotations/*.xml for ImageSets/Main/<train-split>, default trainval: the paper's ~11k images)")
    x = p.add_argument_group("execution")
    x.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="where pair trainings + maps run: local (this process) or ray (one task per pair)")
    x.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster address (host:6379, ray://host:10001, auto); 'local' or unset starts a local "
                        "instance. The --cache directory must be shared by every worker")
    x.add_argument("--no-prebuilt", action="store_true",
                   help="train the default configuration's multi-class model, B and clusters from scratch instead "
                        "of installing the shipped ones (also $REPCAM_PREBUILT=0)")
    o = p.add_argument_group("output")
    o.add_argument("--cache", default=None, help="artifact cache directory (default: $REPCAM_CACHE or ~/.cache/repcam)")
    o.add_argument("--out", default="repcam-results", help="directory for tables (default ./repcam-results)")
    o.add_argument("--quiet", action="store_true", help="no progress bars")


_RUN_FIELDS = ("dataset", "backbone", "similarity_backbone", "cam_method", "device", "seed", "image_size",
               "train_split", "eval_split", "n_clusters", "min_cluster_size", "threshold", "classes",
               "calibration_split", "bootstrap", "clustering", "similarity_temperature", "similarity_holdout")
_TRAIN_FIELDS = ("epochs", "binary_max_epochs", "batch_size", "lr", "binary_lr", "binary_init", "binary_head",
                 "binary_frozen_batchnorm")


def build_config(args: argparse.Namespace):
    """The RunConfig for these arguments: the preset, then every option that was given."""
    from repcam_core.running.config import RunConfig, load_config_file, preset_config

    if getattr(args, "config", None):
        if args.preset:
            from repcam_core.errors import ConfigError

            raise ConfigError("give --config FILE or --preset, not both")
        base = load_config_file(args.config)
    else:
        base = preset_config(args.preset) if args.preset else RunConfig()
    run = {f: getattr(args, f) for f in _RUN_FIELDS if getattr(args, f, None) is not None}
    if getattr(args, "labels", None) == "xml":
        name = run.get("train_split") or "trainval"
        run["train_split"] = name if name.startswith("main/") else f"main/{name}"
    train = {f: getattr(args, f) for f in _TRAIN_FIELDS if getattr(args, f, None) is not None}
    return base.with_(**run, train=train) if train else base.with_(**run)


def make_pipeline(args: argparse.Namespace):
    from repcam_core.running.pipeline import Pipeline
    from repcam_core.running.progress import TqdmProgress

    config = build_config(args)
    p = Pipeline(config, cache=args.cache, progress=TqdmProgress(disable=args.quiet))
    has_masks = getattr(p.dataset, "has_masks", None)
    if has_masks is not None and not has_masks(config.eval_split):
        from repcam_core.errors import ConfigError

        raise ConfigError(f"evaluation split {config.eval_split!r} has no masks; evaluate on a segmentation split (val, train)")
    return p


def make_experiment(args: argparse.Namespace, p: Any):
    from repcam_core.running.executors import make_executor
    from repcam_core.running.experiment import Experiment

    return Experiment(p, executor=make_executor(getattr(args, "executor", "local") or "local",
                                                getattr(args, "ray_address", None)))


def out_dir(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write(path: Path, text: str) -> None:
    from repcam_core.storage.cache import write_text_atomic

    write_text_atomic(path, text)

