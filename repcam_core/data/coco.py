"""Reader for COCO 2017 (instances annotations) with the interface the pipeline uses.

Expected under the root: ``annotations/instances_<name>.json`` and the images of each in
``<name>/`` (``train2017/``, ``val2017/``). The split ``train`` is ``train2017``, ``val`` is
``val2017`` (any ``instances_<x>2017.json`` gives split ``<x>``; other names are used as they
are). Each split ``S`` also has ``S-single``: only the images whose annotations carry exactly
one category, which is what the paper trains on ("images with single class"); training on
``train-single`` also keeps 118k-image ``train`` out of memory.

``train-calib`` is a held-out slice of ``train`` (the images whose COCO id is a multiple of
:data:`CALIB_EVERY`, about 5.9k images, as many as ``val`` has): the calibrated protocol picks
its thresholds there when evaluating ``val``. ``train-single`` leaves those images out, so no
model is trained on them. Other splits have no such slice.

* **Classes**: the categories sorted by their COCO id, mapped to contiguous indices
  ``0..C-1`` (mask value ``c + 1``), named by their ``name``.
* **Image-level labels**: every category with at least one annotation on the image (crowd
  annotations included), taken from the annotations, not from the (cropped) mask.
* **Masks**: ``uint8 [H, W]``, 0 background and ``c + 1`` where an instance of class ``c`` lies,
  i.e. the union of each category's instance masks (crowd regions included). Where instances
  of two categories overlap, **the smaller instance wins**: instances are painted from the
  largest area to the smallest (ties: lower annotation id first), so a small object on top of
  a large one stays visible. COCO has no void label.

Masks are decoded with pycocotools (polygons, compressed and uncompressed RLE).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from repcam_core.data.voc import check_class_names, digest_files, read_rgb
from repcam_core.errors import DatasetError, ImageError

SINGLE_SUFFIX = "-single"
CALIB_SPLIT = "train-calib"
CALIB_EVERY = 20
"""``train-calib`` holds the ``train`` images whose COCO id is a multiple of this."""


def _split_name(stem: str) -> str:
    """``instances_val2017`` -> ``val``; ``instances_minival`` -> ``minival``."""
    name = stem[len("instances_"):]
    return name[:-4] if name.endswith("2017") and len(name) > 4 else name


class COCODataset:
    """A COCO-format directory (real COCO 2017 or the world written by ``write_coco``)."""

    def __init__(self, root: str | Path) -> None:
        given = Path(root).expanduser()
        if not given.exists():
            raise DatasetError(f"dataset directory does not exist: {given}")
        if not given.is_dir():
            raise DatasetError(f"dataset path is not a directory: {given}")
        ann_dir = given / "annotations"
        if not ann_dir.is_dir():
            raise DatasetError(f"not a COCO dataset: {given} is missing annotations/ "
                               f"(expected annotations/instances_val2017.json and val2017/)")
        files = sorted(ann_dir.glob("instances_*.json"))
        if not files:
            raise DatasetError(f"not a COCO dataset: {ann_dir} has no instances_*.json "
                               f"(expected e.g. instances_val2017.json)")
        self.root: Path = given
        self._files: dict[str, Path] = {_split_name(f.stem): f for f in files}
        self._coco: dict[str, Any] = {}
        self._index: dict[str, tuple[str, int]] = {}  # image id string -> (base split, COCO image id)
        self._lock = threading.Lock()
        self._cat_ids, self.class_names = self._read_categories()
        self._cat_index = {cid: i for i, cid in enumerate(self._cat_ids)}

    # ------------------------------------------------------------------ metadata
    def _read_categories(self) -> tuple[list[int], tuple[str, ...]]:
        """Categories from the smallest annotation file (every COCO file lists all 80)."""
        path = min(self._files.values(), key=lambda p: p.stat().st_size)
        try:
            cats = json.loads(path.read_text()).get("categories") or []
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read COCO annotations {path}: {exc}") from exc
        if not cats:
            raise DatasetError(f"{path} lists no categories")
        cats = sorted(cats, key=lambda c: int(c["id"]))
        names = tuple(str(c["name"]) for c in cats)
        check_class_names(names, path, noun="category")
        return [int(c["id"]) for c in cats], names

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return f"COCODataset({str(self.root)!r}, {self.num_classes} classes)"

    def splits(self) -> list[str]:
        """``train``, ``val``, ... and their ``-single`` variants, and ``train-calib`` (sorted)."""
        names = [n + s for n in self._files for s in ("", SINGLE_SUFFIX)]
        return sorted(names + ([CALIB_SPLIT] if "train" in self._files else []))

    def has_masks(self, split: str) -> bool:
        return True

    def _base(self, split: str) -> str:
        base = split[:-len(SINGLE_SUFFIX)] if split.endswith(SINGLE_SUFFIX) else split
        base = "train" if split == CALIB_SPLIT else base
        if base not in self._files:
            raise DatasetError(f"split {split!r} not found in {self.root}: missing "
                               f"annotations/instances_{base}2017.json; available splits: {', '.join(self.splits())}")
        return base

    def image_dir(self, split: str) -> Path:
        return self.root / self._files[self._base(split)].stem[len("instances_"):]

    def _api(self, base: str):
        """The pycocotools index of one annotation file (loaded once, quietly)."""
        with self._lock:
            if base not in self._coco:
                folder = self.image_dir(base)
                if not folder.is_dir():
                    raise DatasetError(f"COCO split {base!r} of {self.root} is missing its image folder "
                                       f"{folder.name}/ (annotations: {self._files[base].name})")
                from pycocotools.coco import COCO

                with contextlib.redirect_stdout(io.StringIO()):
                    try:
                        api = COCO(str(self._files[base]))
                    except (OSError, ValueError, KeyError) as exc:
                        raise DatasetError(f"cannot read COCO annotations {self._files[base]}: {exc}") from exc
                for img_id, img in api.imgs.items():
                    self._index[Path(img["file_name"]).stem] = (base, int(img_id))
                self._coco[base] = api
            return self._coco[base]

    def split_ids(self, split: str) -> list[str]:
        """Image ids (file stems) of ``split`` in annotation-file order."""
        base = self._base(split)
        api = self._api(base)
        ids = []
        for img_id, img in api.imgs.items():
            held_out = base == "train" and int(img_id) % CALIB_EVERY == 0
            if (split == CALIB_SPLIT) != held_out and split != base:
                continue  # train-calib keeps only the slice; train-single never holds it
            if split.endswith(SINGLE_SUFFIX):
                cats = {a["category_id"] for a in api.imgToAnns.get(img_id, [])}
                if len(cats) != 1:
                    continue
            ids.append(Path(img["file_name"]).stem)
        return ids

    def _lookup(self, image_id: str) -> tuple[Any, dict[str, Any]]:
        if image_id not in self._index:
            for base in self._files:  # ids are unique across COCO's files
                self._api(base)
                if image_id in self._index:
                    break
        if image_id not in self._index:
            raise ImageError(f"image {image_id!r} is not in any annotation file of {self.root}")
        base, img_id = self._index[image_id]
        api = self._coco[base]
        return api, api.imgs[img_id]

    def image_path(self, image_id: str) -> Path:
        _, img = self._lookup(image_id)
        return self.image_dir(self._index[image_id][0]) / img["file_name"]

    def mask_path(self, image_id: str) -> Path:
        """Masks come from the annotation file (named in error messages)."""
        self._lookup(image_id)
        return self._files[self._index[image_id][0]]

    def fingerprint(self, split: str) -> str:
        """16 hex digits over the classes, the split, the annotation file's size and mtime and
        each listed image's size and mtime (missing files contribute a marker)."""
        digest = hashlib.sha256()
        digest.update("\n".join(self.class_names).encode())
        digest.update(f"\0{split}\0".encode())
        st = self._files[self._base(split)].stat()
        digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        for image_id in self.split_ids(split):
            digest.update(image_id.encode())
            digest_files(digest, [self.image_path(image_id)])
        return digest.hexdigest()[:16]

    # --------------------------------------------------------------------- items
    def load_image(self, image_id: str) -> np.ndarray:
        """The RGB image, ``uint8 [H, W, 3]``; ImageError naming the file if unreadable."""
        return read_rgb(self.image_path(image_id))

    def image_labels(self, split: str, image_id: str) -> np.ndarray:
        """``bool [C]``: every category annotated on the image (crowd annotations included)."""
        api, img = self._lookup(image_id)
        labels = np.zeros(self.num_classes, dtype=bool)
        for ann in api.imgToAnns.get(img["id"], []):
            labels[self._class_of(ann)] = True
        return labels

    def _class_of(self, ann: dict[str, Any]) -> int:
        try:
            return self._cat_index[int(ann["category_id"])]
        except KeyError:
            raise ImageError(f"annotation {ann.get('id')} has category id {ann.get('category_id')} "
                             f"not in the categories of {self.root}") from None

    def load_mask(self, image_id: str) -> np.ndarray:
        """``uint8 [H, W]``: 0 background, ``c + 1`` for class ``c`` (see the module doc for
        overlaps: the smaller instance wins)."""
        api, img = self._lookup(image_id)
        h, w = int(img["height"]), int(img["width"])
        mask = np.zeros((h, w), dtype=np.uint8)
        anns = sorted(api.imgToAnns.get(img["id"], []), key=lambda a: (-float(a.get("area", 0.0)), a["id"]))
        for ann in anns:
            try:
                with warnings.catch_warnings():  # pycocotools' numpy-2 copy= deprecation, per call
                    warnings.simplefilter("ignore", DeprecationWarning)
                    region = api.annToMask(ann).astype(bool)
            except Exception as exc:  # pycocotools raises bare Exceptions on malformed segmentations
                raise ImageError(f"cannot decode the segmentation of annotation {ann['id']} "
                                 f"in {self.mask_path(image_id)}: {exc}") from exc
            if region.shape != (h, w):
                raise ImageError(f"annotation {ann['id']} in {self.mask_path(image_id)} decodes to "
                                 f"{region.shape[1]}x{region.shape[0]}, its image record says {w}x{h}")
            mask[region] = self._class_of(ann) + 1
        return mask
