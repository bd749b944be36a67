"""Which split the calibrated protocol picks its thresholds on: never the evaluation split.

A threshold tuned on the images it is scored on flatters every mode, so the ``calibrated``
protocol (:mod:`repcam_core.evaluation.protocols`) chooses each mode's threshold on a *calibration split*
whose images are disjoint from the evaluation split's, then scores the evaluation split at it.

Defaults (``RunConfig.calibration_split == ""``):

* the embedded world: its own ``calib`` split (generated with its own random stream, never
  trained on); ``val`` when evaluating ``calib``;
* a VOC-layout directory with a ``calib`` segmentation split (the embedded world written by
  ``repcam demo-data``): that split;
* VOC: the ``train`` segmentation masks when evaluating ``val`` and ``val`` when evaluating
  ``train`` (likewise ``aug/train`` <-> ``aug/val``). With the default mask labels the ``train``
  masks' single-label images are also training images of the classifiers: the threshold is then
  chosen on images the models have seen (disjoint from ``val`` all the same);
* COCO: ``train-calib``, the slice of ``train`` that ``train-single`` leaves out
  (:mod:`repcam_core.data.coco`), when evaluating ``val``; ``val`` when evaluating ``train*``;
* Oxford-IIIT Pet: ``calib``, carved out of ``trainval`` (the default training split ``train``
  leaves it out, :mod:`repcam_core.data.pets`); ``test`` when evaluating ``calib``.

``"none"`` turns the protocol off. Any other value names a split, which must exist, have masks
and share no image with the evaluation split (:class:`ConfigError` otherwise). When the default
split does not exist in a directory (e.g. a COCO copy with ``val2017`` only) the protocol is off
with a warning saying how to choose one.
"""

from __future__ import annotations

import warnings
from typing import Any

from repcam_core.errors import ConfigError, DatasetError

OFF = "none"


def default_calibration_split(kind: str, eval_split: str) -> str:
    """The calibration split the issue's protocol prescribes for a dataset ``kind``
    (``embedded``, ``voc``, ``coco``, ``pets``) evaluated on ``eval_split``."""
    if kind == "pets":
        return "test" if eval_split == "calib" else "calib"
    if kind == "embedded":
        return "val" if eval_split == "calib" else "calib"
    if kind == "coco":
        return "val" if eval_split.startswith("train") else "train-calib"
    prefix, _, name = eval_split.rpartition("/")
    swapped = {"val": "train", "train": "val"}.get(name, "train")
    return f"{prefix}/{swapped}" if prefix else swapped


def resolve_calibration_split(dataset: Any, kind: str, eval_split: str, spec: str) -> str | None:
    """The calibration split's name for this dataset, or None when the protocol is off.

    Raises:
        ConfigError: an explicitly named split that is the evaluation split, lacks masks or shares
            images with it (a default split that shares images turns the protocol off, with a warning). DatasetError: an explicitly named split that does not exist.
    """
    spec = spec.strip()
    if spec.lower() == OFF:
        return None
    explicit = bool(spec)
    name = spec or default_calibration_split(kind, eval_split)
    if not explicit and kind == "voc" and eval_split != "calib" and "calib" in _splits(dataset):
        name = "calib"  # a generated world on disk brings its own calibration split
    if name == eval_split:
        raise ConfigError(f"calibration split {name!r} is the evaluation split; thresholds must be chosen on "
                          f"other images (choose another --calibration-split, or 'none')")
    try:
        ids = dataset.split_ids(name)
        has_masks = getattr(dataset, "has_masks", lambda _s: True)(name)
    except DatasetError as exc:
        if explicit:
            raise
        warnings.warn(f"no calibration split: {exc}; the calibrated protocol is off "
                      f"(name one with --calibration-split)", stacklevel=2)
        return None
    if not has_masks:
        raise ConfigError(f"calibration split {name!r} has no masks; thresholds are calibrated against masks")
    if not ids:
        raise DatasetError(f"calibration split {name!r} of {dataset.root} lists no images")
    shared = set(ids) & set(dataset.split_ids(eval_split))
    if shared:
        example = sorted(shared)[0]
        if not explicit:  # a default the user did not choose never stops the run
            warnings.warn(f"no calibration split: the default {name!r} shares {len(shared)} image(s) with the "
                          f"evaluation split {eval_split!r} (e.g. {example}); the calibrated protocol is off "
                          f"(name a disjoint one with --calibration-split)", stacklevel=2)
            return None
        raise ConfigError(f"calibration split {name!r} shares {len(shared)} image(s) with the evaluation split "
                          f"{eval_split!r} (e.g. {example}); the two must be disjoint")
    return name


def _splits(dataset: Any) -> list[str]:
    fn = getattr(dataset, "splits", None)
    try:
        return list(fn()) if fn is not None else []
    except DatasetError:
        return []
