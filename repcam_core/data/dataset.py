"""Decoded, cropped, cached dataset splits held as tensors.

A split is decoded once (image + mask -> short-side resize + centre crop) and kept as uint8
tensors; with a cache directory the tensors are stored in one ``.npz`` keyed by the dataset's
fingerprint, so later epochs and runs never decode again.

Any reader with ``class_names``, ``root``, ``split_ids(split)``, ``fingerprint(split)``,
``load_image(id)``, ``load_mask(id)``, ``image_path(id)`` and ``mask_path(id)`` works (VOC,
COCO). Two optional methods refine it: ``has_masks(split)`` (False: image-level labels only,
the masks are all void and never stored) and ``image_labels(split, id)`` (a ``bool [C]`` that
replaces the labels read off the mask, or None). ``load_mask``/``mask_path`` receive the split
as a keyword when the reader's signature accepts it.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Any, Callable

import numpy as np
import torch

from repcam_core.data.transforms import mask_resize_short_center_crop, resize_short_center_crop
from repcam_core.data.voc import VOCDataset
from repcam_core.errors import ConfigError, DatasetError, ImageError
from repcam_core.data.decoded_files import cache_path
from repcam_core.data.decoded_files import problem as decoded_problem
from repcam_core.storage.integrity import TMP_MARK, cache_lock, quarantine, remove_leftovers, storage_errors

CACHE_FORMAT = 1
VOID = 255


@dataclass
class Split:
    """A decoded split: ``images uint8 [N, 3, S, S]``, ``masks uint8 [N, S, S]`` (0 bg,
    ``c + 1`` class ``c``, 255 void), ``labels bool [N, C]`` from the full uncropped masks."""

    ids: list[str]
    images: torch.Tensor
    masks: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file path, reason)
    has_masks: bool = True  # False: image-level labels only; ``masks`` is all void (255)
    other_labels: torch.Tensor | None = None  # bool [N]: labelled with a class outside this subset

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def _check_class(self, c: int) -> None:
        if not 0 <= c < self.num_classes:
            raise ConfigError(f"class index {c} out of range 0..{self.num_classes - 1}")

    def single_label_indices(self, c: int) -> torch.Tensor:
        """``int64 [K]``: indices of the images whose label set is exactly ``{c}``."""
        self._check_class(c)
        single = self.labels[:, c] & (self.labels.sum(1) == 1)
        if self.other_labels is not None:
            single &= ~self.other_labels
        return torch.nonzero(single).flatten()

    def class_indices(self, c: int) -> torch.Tensor:
        """``int64 [K]``: indices of the images whose labels contain ``c``."""
        self._check_class(c)
        return torch.nonzero(self.labels[:, c]).flatten()

    def single_label_counts(self) -> list[int]:
        """Per class, the number of images labelled with that class only."""
        return [len(self.single_label_indices(c)) for c in range(self.num_classes)]

    def subset(self, keep: Sequence[int]) -> "Split":
        """The same images restricted to classes ``keep`` (renumbered 0..K-1 in that order).

        Pixels of the other classes become void (255, ignored by every metric) and images that
        carry another class are never single-label (so they are not used for training)."""
        keep = [int(c) for c in keep]
        for c in keep:
            self._check_class(c)
        lut = torch.full((256,), 255, dtype=torch.uint8)
        lut[0] = 0
        for new, old in enumerate(keep):
            lut[old + 1] = new + 1
        dropped = [c for c in range(self.num_classes) if c not in keep]
        other = self.labels[:, dropped].any(1) if dropped else torch.zeros(len(self.ids), dtype=torch.bool)
        if self.other_labels is not None:
            other |= self.other_labels
        masks = lut[self.masks.long()] if self.has_masks else self.masks
        return Split(ids=self.ids, images=self.images, masks=masks, labels=self.labels[:, keep],
                     class_names=tuple(self.class_names[c] for c in keep), skipped=self.skipped,
                     has_masks=self.has_masks, other_labels=other)


def _has_masks(dataset: Any, split: str | None) -> bool:
    fn = getattr(dataset, "has_masks", None)
    return True if fn is None or split is None else bool(fn(split))


def _takes_split(fn: Callable[..., Any]) -> bool:
    try:
        return "split" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def _mask_path(dataset: Any, image_id: str, split: str | None) -> Path:
    fn = dataset.mask_path
    return fn(image_id, split=split) if split is not None and _takes_split(fn) else fn(image_id)


def _load_mask(dataset: Any, image_id: str, split: str | None) -> np.ndarray:
    fn = dataset.load_mask
    return fn(image_id, split=split) if split is not None and _takes_split(fn) else fn(image_id)


def _decode_item(dataset: Any, image_id: str, size: int,
                 split: str | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Decode one pair -> ``(image uint8 [3,S,S], mask uint8 [S,S] or None, labels bool [C])``.

    The mask is None for splits without masks. Labels come from the reader's
    ``image_labels(split, id)`` when it gives them, else from the full uncropped mask.
    Raises ImageError (message names the file) when a file is unusable.
    """
    image = dataset.load_image(image_id)
    labels_fn = getattr(dataset, "image_labels", None)
    given = labels_fn(split, image_id) if labels_fn is not None and split is not None else None
    out_mask = None
    if _has_masks(dataset, split):
        mask = _load_mask(dataset, image_id, split)
        if image.shape[:2] != mask.shape:
            raise ImageError(
                f"mask {_mask_path(dataset, image_id, split)} is {mask.shape[1]}x{mask.shape[0]} but its image "
                f"is {image.shape[1]}x{image.shape[0]}"
            )
        values = np.unique(mask)
        bad = [int(v) for v in values if v > dataset.num_classes and v != VOID]
        if bad:
            raise ImageError(
                f"mask {_mask_path(dataset, image_id, split)} has values {bad} outside 0..{dataset.num_classes} "
                f"and 255 (the dataset names {dataset.num_classes} classes: does its class list match the masks?)"
            )
        out_mask = mask_resize_short_center_crop(mask, size)
        if given is None:
            given = np.zeros(dataset.num_classes, dtype=bool)
            given[[int(v) - 1 for v in values if 1 <= v <= dataset.num_classes]] = True
    elif given is None:
        raise ImageError(f"split {split!r} has no masks and the reader gives no labels for {image_id}")
    labels = np.asarray(given, dtype=bool)
    image = resize_short_center_crop(image, size).transpose(2, 0, 1)
    return np.ascontiguousarray(image), out_mask, labels


def _skip_path(dataset: Any, image_id: str, error: ImageError, split: str | None = None) -> str:
    message = str(error)
    for path in (str(_mask_path(dataset, image_id, split)), *_extra_paths(dataset, image_id)):
        if path in message:
            return path
    return str(dataset.image_path(image_id))


def _extra_paths(dataset: Any, image_id: str) -> list[str]:
    fn = getattr(dataset, "annotation_path", None)
    return [str(fn(image_id))] if fn is not None else []


def _void_masks(n: int, size: int) -> torch.Tensor:
    """``uint8 [n, S, S]`` all void, without the memory (an expanded view)."""
    return torch.full((1, 1, 1), VOID, dtype=torch.uint8).expand(n, size, size)


def _decode_all(dataset: VOCDataset, ids: list[str], size: int,
                progress: Callable[[int, int], None] | None, split: str | None = None) -> Split:
    results: list[tuple[np.ndarray, np.ndarray | None, np.ndarray] | ImageError] = []

    def one(image_id: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray] | ImageError:
        try:
            return _decode_item(dataset, image_id, size, split)
        except ImageError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for done, result in enumerate(pool.map(one, ids), start=1):
            results.append(result)
            if progress is not None:
                progress(done, len(ids))
    kept, skipped = [], []
    for image_id, result in zip(ids, results):
        if isinstance(result, ImageError):
            path = _skip_path(dataset, image_id, result, split)
            warnings.warn(f"skipping {path}: {result}", stacklevel=3)
            skipped.append((path, str(result)))
        else:
            kept.append((image_id, result))
    if not kept:
        raise DatasetError(
            f"none of the {len(ids)} images of {dataset.root} could be read"
            + (f"; first problem: {skipped[0][1]}" if skipped else "")
        )
    has_masks = _has_masks(dataset, split)
    return Split(
        ids=[image_id for image_id, _ in kept],
        images=torch.from_numpy(np.stack([r[0] for _, r in kept])),
        masks=(torch.from_numpy(np.stack([r[1] for _, r in kept])) if has_masks
               else _void_masks(len(kept), size)),
        labels=torch.from_numpy(np.stack([r[2] for _, r in kept])),
        class_names=tuple(dataset.class_names),
        skipped=skipped,
        has_masks=has_masks,
    )


def _save_cache(path: Path, split: Split, root: Path) -> None:
    """Write ``split`` to ``path`` atomically (temp file in the same directory, then replace)."""
    with storage_errors(root):
        path.parent.mkdir(parents=True, exist_ok=True)
        with cache_lock(root, path):
            remove_leftovers(path)  # we hold the lock: temporary siblings belong to killed writers
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(
                        fh,
                        format=np.array(CACHE_FORMAT),
                        ids=np.array(split.ids, dtype=str),
                        images=split.images.numpy(),
                        masks=split.masks.numpy() if split.has_masks else np.zeros((0,), np.uint8),
                        has_masks=np.array(split.has_masks),
                        labels=split.labels.numpy(),
                        class_names=np.array(split.class_names, dtype=str),
                        skipped=np.array(split.skipped, dtype=str).reshape(-1, 2),
                    )
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def _load_cache(path: Path, class_names: tuple[str, ...], root: Path) -> Split | None:
    """The cached split, or None when it is from another format or dataset, or damaged.

    The ``.npz`` (a zip) stores a CRC-32 of each array; all are checked before use. A damaged
    file is moved to the cache's quarantine with a warning naming it, and decoded again.
    """
    bad = decoded_problem(path)  # reads every member and checks its CRC-32
    if bad is not None:
        quarantine(path, root, bad, "decoding the split again")
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != CACHE_FORMAT or tuple(data["class_names"].tolist()) != class_names:
                return None
            has_masks = bool(data["has_masks"]) if "has_masks" in data.files else True
            images = torch.from_numpy(data["images"].copy())
            split = Split(
                ids=[str(i) for i in data["ids"].tolist()],
                images=images,
                masks=(torch.from_numpy(data["masks"].copy()) if has_masks
                       else _void_masks(images.shape[0], images.shape[-1])),
                labels=torch.from_numpy(data["labels"].copy()),
                class_names=class_names,
                skipped=[(str(p), str(r)) for p, r in data["skipped"].tolist()],
                has_masks=has_masks,
            )
        if not len(split.ids) == len(split.images) == len(split.masks) == len(split.labels):
            raise ValueError("its arrays disagree in length")
        return split
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        quarantine(path, root, f"{type(exc).__name__}: {exc}", "decoding the split again")
        return None


def load_split(
    dataset: VOCDataset,
    split: str,
    size: int,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache_root: Path | None = None,
    fingerprint: str | None = None,
) -> Split:
    """Decode ``split`` of ``dataset`` at ``size x size`` (or read it from ``cache_dir``).

    Unreadable images or masks are skipped with a warning ``"skipping <path>: <reason>"`` and
    listed in ``Split.skipped``; DatasetError if nothing is readable or the split is empty.
    ``progress(done, total)`` is called after each decoded image (not when read from cache).
    ``cache_root``: the cache ``cache_dir`` lives in (its quarantine and locks; default ``cache_dir``).
    ``fingerprint``: the split's (names the cache file), when the caller already has it.
    """
    if size < 1:
        raise ConfigError(f"image size must be >= 1, got {size}")
    ids = dataset.split_ids(split)
    if not ids:
        raise DatasetError(f"split {split!r} of {dataset.root} lists no images")
    path = cache_path(dataset, split, size, cache_dir, fingerprint) if cache_dir is not None else None
    root = Path(cache_root if cache_root is not None else cache_dir) if cache_dir is not None else None
    if path is not None and path.is_file():
        cached = _load_cache(path, tuple(dataset.class_names), root)
        if cached is not None:
            return cached
    result = _decode_all(dataset, ids, size, progress, split)
    if path is not None:
        _save_cache(path, result, root)
    return result
