"""Reader for datasets in the PASCAL VOC 2012 segmentation layout (real VOC or the world).

Expected under the root: ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` and
``ImageSets/Segmentation/<split>.txt``; optionally ``classes.txt`` (foreground class names in
label order; mask value ``c + 1`` is class ``c``, 0 background, 255 void).

Split names select where ids, labels and masks come from:

* ``NAME`` (``train``, ``val``, ...): ids from ``ImageSets/Segmentation/NAME.txt``, masks from
  ``SegmentationClass``, image-level labels from the masks;
* ``main/NAME`` (e.g. ``main/trainval``, the paper's ~11k training images): ids from
  ``ImageSets/Main/NAME.txt``, image-level labels from ``Annotations/<id>.xml``, **no masks**
  (such a split trains classifiers; it cannot be evaluated);
* ``aug/NAME`` (e.g. ``aug/train_aug``): masks from ``SegmentationClassAug`` (the SBD-augmented
  set), ids from ``ImageSets/SegmentationAug/NAME.txt`` or else ``ImageSets/Segmentation/NAME.txt``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image

from repcam_core.data.palette import rgb_to_index
from repcam_core.data.voc_xml import xml_labels
from repcam_core.errors import DatasetError, ImageError

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
REQUIRED_ENTRIES = ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation")
XML_PREFIX, AUG_PREFIX = "main/", "aug/"


def _missing_entries(root: Path) -> list[str]:
    return [entry for entry in REQUIRED_ENTRIES if not (root / entry).is_dir()]


class VOCDataset:
    """A VOC-layout dataset directory.

    Also accepts a devkit root: ``root/VOC2012`` or ``root/VOCdevkit/VOC2012`` is descended
    into when ``root`` itself is not in the layout.
    """

    def __init__(self, root: str | Path) -> None:
        given = Path(root).expanduser()
        if not given.exists():
            raise DatasetError(f"dataset directory does not exist: {given}")
        if not given.is_dir():
            raise DatasetError(f"dataset path is not a directory: {given}")
        resolved = given
        if _missing_entries(given):
            for sub in ("VOC2012", "VOCdevkit/VOC2012"):
                if (given / sub).is_dir() and not _missing_entries(given / sub):
                    resolved = given / sub
                    break
        missing = _missing_entries(resolved)
        if missing:
            raise DatasetError(
                f"not a VOC-layout dataset: {given} is missing " + ", ".join(f"{m}/" for m in missing)
            )
        self.root: Path = resolved
        self.class_names: tuple[str, ...] = self._read_class_names()
        self._split_cache: dict[str, list[str]] = {}

    def _read_class_names(self) -> tuple[str, ...]:
        path = self.root / "classes.txt"
        if not path.is_file():
            return VOC_CLASSES
        names = tuple(read_lines(path))
        if not names:
            raise DatasetError(f"{path} lists no class names")
        check_class_names(names, path)
        return names

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return f"VOCDataset({str(self.root)!r}, {self.num_classes} classes)"

    def splits(self) -> list[str]:
        """Every split name this directory offers (sorted): the segmentation splits, then
        ``main/*`` when ``Annotations/`` is present and ``aug/*`` when ``SegmentationClassAug/`` is."""
        names = sorted(p.stem for p in (self.root / "ImageSets" / "Segmentation").glob("*.txt"))
        if (self.root / "Annotations").is_dir():
            names += sorted(XML_PREFIX + p.stem for p in (self.root / "ImageSets" / "Main").glob("*.txt")
                            if "_" not in p.stem)  # Main/ also holds per-class lists like cat_train.txt
        if (self.root / "SegmentationClassAug").is_dir():
            stems = {p.stem for p in (self.root / "ImageSets" / "SegmentationAug").glob("*.txt")}
            stems |= {p.stem for p in (self.root / "ImageSets" / "Segmentation").glob("*.txt")}
            names += sorted(AUG_PREFIX + s for s in stems)
        return names

    def split_kind(self, split: str) -> str:
        """``"seg"``, ``"xml"`` (``main/NAME``) or ``"aug"`` (``aug/NAME``)."""
        if split.startswith(XML_PREFIX):
            return "xml"
        if split.startswith(AUG_PREFIX):
            return "aug"
        return "seg"

    def has_masks(self, split: str) -> bool:
        """False for ``main/*`` splits, whose images have image-level labels only."""
        return self.split_kind(split) != "xml"

    def _split_file(self, split: str) -> Path:
        """The id list of ``split``; DatasetError naming exactly what is missing."""
        kind = self.split_kind(split)
        name = split.partition("/")[2] if kind != "seg" else split
        if kind != "seg" and not name:
            raise DatasetError(f"split {split!r} names no list; e.g. {split}trainval")
        missing = []
        if kind == "xml":
            path = self.root / "ImageSets" / "Main" / f"{name}.txt"
            if not (self.root / "Annotations").is_dir():
                missing.append("Annotations/ (the XML files that give image-level labels)")
        elif kind == "aug":
            path = self.root / "ImageSets" / "SegmentationAug" / f"{name}.txt"
            if not path.is_file():
                path = self.root / "ImageSets" / "Segmentation" / f"{name}.txt"
            if not (self.root / "SegmentationClassAug").is_dir():
                missing.append("SegmentationClassAug/ (the augmented masks)")
        else:
            path = self.root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not path.is_file():
            rel = path.relative_to(self.root)
            if kind == "aug":
                rel = f"ImageSets/SegmentationAug/{name}.txt (or {rel})"
            missing.insert(0, str(rel))
        if missing:
            raise DatasetError(
                f"split {split!r} not found in {self.root}: missing " + "; ".join(missing)
                + "; available splits: " + (", ".join(self.splits()) or "none"))
        return path

    def split_ids(self, split: str) -> list[str]:
        """The image ids listed for ``split`` (see the module doc for the split names), in file order."""
        if split not in self._split_cache:
            path = self._split_file(split)
            listed = [ln.split()[0] for ln in read_lines(path)]
            if not listed:
                raise DatasetError(f"split {split!r} is empty: {path} lists no image ids")
            ids = list(dict.fromkeys(listed))
            if len(ids) < len(listed):
                repeated = sorted({i for i in listed if listed.count(i) > 1})
                warnings.warn(f"{path} lists {len(listed) - len(ids)} id(s) more than once (e.g. {repeated[0]!r}); "
                              f"each image is used once", stacklevel=2)
            self._split_cache[split] = ids
        return list(self._split_cache[split])

    def annotation_path(self, image_id: str) -> Path:
        return self.root / "Annotations" / f"{image_id}.xml"

    def image_labels(self, split: str, image_id: str) -> np.ndarray | None:
        """``bool [C]`` from the XML annotation for ``main/*`` splits; None (labels come from the
        mask) otherwise. Raises ImageError naming the file when it is missing or unusable."""
        if self.split_kind(split) != "xml":
            return None
        return xml_labels(self.annotation_path(image_id), self.class_names)

    def missing_files(self, split: str) -> list[Path]:
        """Every file ``split`` needs that is not there (images, masks or XML annotations)."""
        return [p for image_id in self.split_ids(split) for p in self._split_files(split, image_id)
                if not p.is_file()]

    def _split_files(self, split: str, image_id: str) -> tuple[Path, Path]:
        second = (self.annotation_path(image_id) if self.split_kind(split) == "xml"
                  else self.mask_path(image_id, split))
        return self.image_path(image_id), second

    def image_path(self, image_id: str) -> Path:
        return self.root / "JPEGImages" / f"{image_id}.jpg"

    def mask_path(self, image_id: str, split: str | None = None) -> Path:
        """The mask of ``image_id``: under ``SegmentationClassAug`` for ``aug/*`` splits."""
        folder = "SegmentationClassAug" if split is not None and self.split_kind(split) == "aug" else "SegmentationClass"
        return self.root / folder / f"{image_id}.png"

    def fingerprint(self, split: str) -> str:
        """16 hex digits over the class names, the split's ids and each file's size and mtime.

        Cheap (one ``stat`` per file); changes when any listed file is replaced or touched.
        Missing files contribute a marker instead of failing.
        """
        digest = hashlib.sha256()
        digest.update("\n".join(self.class_names).encode())
        digest.update(f"\0{split}\0".encode())
        # the paths of _split_files, built as strings (a pathlib join per file cost more than its stat)
        image_dir, (second_dir, second_ext) = f"{self.image_path('x').parent}/", self._second_file(split)
        for image_id in self.split_ids(split):
            digest.update(image_id.encode())
            digest_files(digest, (f"{image_dir}{image_id}.jpg", f"{second_dir}{image_id}{second_ext}"))
        return digest.hexdigest()[:16]

    def _second_file(self, split: str) -> tuple[str, str]:
        """Folder (with its trailing slash) and extension of the file :meth:`_split_files` pairs
        with each image of ``split``."""
        path = (self.annotation_path("x") if self.split_kind(split) == "xml" else self.mask_path("x", split))
        return f"{path.parent}/", path.suffix

    def load_image(self, image_id: str) -> np.ndarray:
        """The RGB image, ``uint8 [H, W, 3]``; ImageError naming the file if unreadable."""
        return read_rgb(self.image_path(image_id))

    def load_mask(self, image_id: str, split: str | None = None) -> np.ndarray:
        """The label mask, ``uint8 [H, W]``: palette indices (0 bg, 1..C, 255 void).

        'P'/'L' PNGs give their index values as they are; RGB masks are mapped back through
        the VOC palette (ImageError if a colour is not in it). ``split`` picks the mask folder
        (``aug/*`` -> ``SegmentationClassAug``); ImageError for a ``main/*`` split (no masks).
        """
        if split is not None and not self.has_masks(split):
            raise ImageError(f"split {split!r} has image-level labels only; no mask for {image_id}")
        path = self.mask_path(image_id, split)
        with open_image(path) as im:
            try:
                if im.mode in ("P", "L"):
                    return np.array(im, dtype=np.uint8)
                if im.mode in ("RGB", "RGBA"):
                    indices, unknown = rgb_to_index(np.asarray(im.convert("RGB")))
                    if unknown.any():
                        ys, xs = np.nonzero(unknown)
                        colour = tuple(np.asarray(im.convert("RGB"))[ys[0], xs[0]].tolist())
                        raise ImageError(f"mask {path} has colour {colour} not in the VOC palette")
                    return indices
            except (OSError, ValueError) as exc:
                raise ImageError(f"cannot decode mask {path}: {exc}") from exc
            raise ImageError(f"mask {path} has unsupported mode {im.mode!r} (expected P, L or RGB)")


def check_class_names(names: tuple[str, ...], path: Path, noun: str = "class") -> None:
    """DatasetError when ``names`` (read from ``path``) repeat a name or do not fit in a uint8 mask."""
    if len(set(names)) != len(names):
        raise DatasetError(f"{path} lists a {noun} name twice")
    if len(names) > 254:
        raise DatasetError(f"{path} lists {len(names)} {'categories' if noun == 'category' else 'classes'}; "
                           f"at most 254 fit in a mask")


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a text file, stripped (CRLF and a UTF-8 byte-order mark are fine);
    DatasetError naming the file when it is not UTF-8 text."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text (byte {exc.start}); expected one name or id per line") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def digest_files(digest: Any, paths: Iterable[Path | str]) -> None:
    """Feed each file's size and mtime (or a marker when missing) into ``digest``."""
    for path in paths:
        try:
            st = os.stat(path)
            digest.update(f"|{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError:
            digest.update(b"|missing")


def read_rgb(path: Path) -> np.ndarray:
    """The RGB image at ``path``, ``uint8 [H, W, 3]``; ImageError naming the file if unreadable."""
    with open_image(path) as im:
        try:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
        except (OSError, ValueError) as exc:
            raise ImageError(f"cannot decode image {path}: {exc}") from exc


def open_image(path: Path) -> Image.Image:
    """Open and fully decode ``path``; ImageError naming it when missing or undecodable."""
    if not path.is_file():
        raise ImageError(f"file not found: {path}")
    im = None
    try:
        im = Image.open(path)
        im.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        if im is not None:
            im.close()
        raise ImageError(f"cannot decode {path}: {exc}") from exc
    return im
