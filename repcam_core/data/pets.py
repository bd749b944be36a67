"""Reader for the Oxford-IIIT Pet data set in its own layout (``--dataset pets:DIR``).

Expected under the root (as the two archives of the download unpack):

* ``images/<Breed>_<n>.jpg`` — the photos;
* ``annotations/list.txt`` — one line per image, ``Image CLASS-ID SPECIES BREED-ID`` (e.g.
  ``Abyssinian_100 1 1 1``); the full download starts with ``#`` header lines, a copy may not:
  lines starting with ``#`` are skipped either way;
* ``annotations/trainval.txt`` and ``annotations/test.txt`` — the data set's own split, same
  line format (a line holding only the image name is accepted too);
* ``annotations/trimaps/<Breed>_<n>.png`` — per pixel 1 pet, 2 background, 3 border.

**Classes** are the breeds of ``list.txt``, ordered by CLASS-ID (1..37 in the full download; a
copy with a few breeds keeps their original ids, e.g. 1, 2, 6), renumbered ``0..C-1``; a
breed's name is its images' name without the trailing ``_<n>`` (``Abyssinian``,
``american_bulldog``). Every image of a split must be listed in ``list.txt`` (its breed is read
there) with the same CLASS-ID; anything else is a :class:`DatasetError` naming the file and line.

**Masks**: trimap 1 -> the image's breed (``c + 1``), 2 -> background (0), 3 -> void (255, the
uncertain border, ignored by every metric). A trimap holding any other value is not a trimap (a
VOC mask, a 0/255 matte): :class:`DatasetError` naming it, rather than scoring a wrong mask. A
trimap that is missing or cannot be decoded is skipped with a warning naming it, as every reader
does with unreadable files (:mod:`repcam_core.data.dataset`). Image-level labels are the breed
from ``list.txt`` (one class per image).

**Splits**: ``trainval`` and ``test`` as listed; ``calib`` is carved out of ``trainval`` and
``train`` is ``trainval`` minus ``calib``, so no classifier ever trains on the images the
calibrated protocol picks its thresholds on. The carve-out is stratified per breed and seeded:
of each breed's ``trainval`` images, the :data:`CALIB_SHARE` (rounded half up; at least one image
left on each side when the breed has two or more) whose SHA-256 of ``"repcam-pets-calib:<id>"``
sorts first form ``calib``. It depends only on the image names (not on file order, the run's
seed or the other breeds), so adding images moves no other image between the two. Defaults with
``pets:``: train ``train``, evaluate ``test``, calibrate on ``calib``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repcam_core.data.voc import open_image, check_class_names, digest_files, read_rgb
from repcam_core.errors import DatasetError, ImageError

CALIB_SHARE = 0.2
"""Share of each breed's ``trainval`` images carved out as the ``calib`` split."""
CALIB_SALT = "repcam-pets-calib"
CARVE_RULE = f"{CALIB_SALT}:{CALIB_SHARE}:sha256"
"""Names the carve-out rule in the fingerprints of ``train``/``calib`` (a new rule, new keys)."""
LISTED_SPLITS = ("trainval", "test")
CARVED = {"train": "trainval", "calib": "trainval"}
"""Splits carved out of a listed one: name -> the listed split they come from."""
TRIMAP_TO_LABEL = {1: None, 2: 0, 3: 255}
"""Trimap value -> mask value (None: the image's breed, ``c + 1``)."""
_NAME = re.compile(r"(?P<breed>.+)_(?P<n>\d+)")


@dataclass(frozen=True)
class _Entry:
    """One annotation line: the image's CLASS-ID and where it was read (for messages)."""

    class_id: int
    path: Path
    line: int


def _parse(path: Path, full: bool) -> dict[str, _Entry]:
    """Image name -> entry for every non-header line of an annotation file.

    ``full``: every line must have the four fields of ``list.txt``; otherwise a line may also
    hold the image name alone (class id 0: take it from ``list.txt``). DatasetError naming the
    file and line for anything else."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    out: dict[str, _Entry] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        ok = len(fields) == 4 or (len(fields) == 1 and not full)
        if ok and len(fields) == 4:
            ok = all(f.isdigit() and int(f) >= 1 for f in fields[1:])
        if not ok:
            raise DatasetError(f"{path} line {number}: expected 'Image CLASS-ID SPECIES BREED-ID' "
                               f"(an image name and three positive integers), got {line!r}")
        if _NAME.fullmatch(fields[0]) is None:
            raise DatasetError(f"{path} line {number}: image name {fields[0]!r} does not end in _<number> "
                               f"(Oxford-IIIT Pet names are <Breed>_<n>)")
        entry = _Entry(int(fields[1]) if len(fields) == 4 else 0, path, number)
        seen = out.get(fields[0])
        if seen is not None and seen.class_id != entry.class_id:
            raise DatasetError(f"{path} line {number}: {fields[0]} has CLASS-ID {entry.class_id}, "
                               f"line {seen.line} gave it {seen.class_id}")
        out.setdefault(fields[0], entry)
    return out


class PetDataset:
    """An Oxford-IIIT Pet directory (see the module docstring for the layout and splits)."""

    def __init__(self, root: str | Path) -> None:
        given = Path(root).expanduser()
        if not given.exists():
            raise DatasetError(f"dataset directory does not exist: {given}")
        if not given.is_dir():
            raise DatasetError(f"dataset path is not a directory: {given}")
        needed = {"images/": given / "images", "annotations/trimaps/ (the masks)": given / "annotations" / "trimaps"}
        missing = [name for name, path in needed.items() if not path.is_dir()]
        if not (given / "annotations" / "list.txt").is_file():
            missing.append("annotations/list.txt (the breed of each image)")
        if missing:
            raise DatasetError(f"not an Oxford-IIIT Pet directory: {given} is missing " + ", ".join(missing))
        self.root: Path = given
        self.list_path = given / "annotations" / "list.txt"
        self._listed = _parse(self.list_path, full=True)
        if not self._listed:
            raise DatasetError(f"{self.list_path} lists no image")
        self.class_names, self._class_index = self._breeds()
        self._splits: dict[str, list[str]] = {}

    def _breeds(self) -> tuple[tuple[str, ...], dict[int, int]]:
        """Breed names ordered by CLASS-ID and CLASS-ID -> class index; DatasetError when two
        images of one CLASS-ID name different breeds or one breed has two CLASS-IDs."""
        names: dict[int, tuple[str, _Entry, str]] = {}
        ids_of: dict[str, int] = {}
        for image, entry in self._listed.items():
            breed = _NAME.fullmatch(image)["breed"]
            known = names.setdefault(entry.class_id, (breed, entry, image))
            if known[0] != breed:
                raise DatasetError(f"{self.list_path} line {entry.line}: {image} has CLASS-ID {entry.class_id}, "
                                   f"which line {known[1].line} gives to breed {known[0]!r} ({known[2]})")
            other = ids_of.setdefault(breed, entry.class_id)
            if other != entry.class_id:
                raise DatasetError(f"{self.list_path} line {entry.line}: breed {breed!r} has CLASS-ID "
                                   f"{entry.class_id} here and {other} elsewhere")
        order = sorted(names)
        class_names = tuple(names[i][0] for i in order)
        check_class_names(class_names, self.list_path, noun="breed")
        return class_names, {cid: k for k, cid in enumerate(order)}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return f"PetDataset({str(self.root)!r}, {self.num_classes} breeds)"

    # ------------------------------------------------------------------ splits
    def splits(self) -> list[str]:
        """The split names this directory offers (sorted)."""
        listed = [s for s in LISTED_SPLITS if self._split_file(s).is_file()]
        return sorted(listed + [name for name, source in CARVED.items() if source in listed])

    def has_masks(self, split: str) -> bool:
        return True

    def _split_file(self, split: str) -> Path:
        return self.root / "annotations" / f"{split}.txt"

    def split_ids(self, split: str) -> list[str]:
        """The image names of ``split`` (file order; ``train``/``calib`` keep ``trainval``'s order)."""
        if split not in self._splits:
            if split in CARVED:
                source = self.split_ids(CARVED[split])
                calib = self._carve(source)
                self._splits[split] = [i for i in source if (i in calib) == (split == "calib")]
            elif split in LISTED_SPLITS:
                self._splits[split] = self._read_split(split)
            else:
                raise DatasetError(f"split {split!r} not found in {self.root}; available splits: "
                                   + (", ".join(self.splits()) or "none"))
        return list(self._splits[split])

    def _read_split(self, split: str) -> list[str]:
        path = self._split_file(split)
        if not path.is_file():
            raise DatasetError(f"split {split!r} not found in {self.root}: missing annotations/{split}.txt; "
                               f"available splits: " + (", ".join(self.splits()) or "none"))
        entries = _parse(path, full=False)
        if not entries:
            raise DatasetError(f"split {split!r} is empty: {path} lists no image")
        for image, entry in entries.items():
            listed = self._listed.get(image)
            if listed is None:
                raise DatasetError(f"{path} line {entry.line}: {image} is not in {self.list_path}, so its breed "
                                   f"is unknown (add its line there, or remove it from {path.name})")
            if entry.class_id and entry.class_id != listed.class_id:
                raise DatasetError(f"{path} line {entry.line}: {image} has CLASS-ID {entry.class_id}, "
                                   f"{self.list_path} line {listed.line} gives {listed.class_id}")
        return list(entries)

    def _carve(self, ids: list[str]) -> set[str]:
        """The ``calib`` share of ``ids`` (see the module docstring): per breed, the
        ``round_half_up(CALIB_SHARE * n)`` names whose salted SHA-256 sorts first."""
        by_class: dict[int, list[str]] = {}
        for image in ids:
            by_class.setdefault(self.class_of(image), []).append(image)
        calib: set[str] = set()
        for members in by_class.values():
            n = len(members)
            k = 0 if n < 2 else min(n - 1, max(1, int(CALIB_SHARE * n + 0.5)))
            ranked = sorted(members, key=lambda i: hashlib.sha256(f"{CALIB_SALT}:{i}".encode()).hexdigest())
            calib.update(ranked[:k])
        return calib

    def class_of(self, image_id: str) -> int:
        """The class index of ``image_id``'s breed (ImageError when ``list.txt`` lacks it)."""
        entry = self._listed.get(image_id)
        if entry is None:
            raise ImageError(f"{image_id} is not listed in {self.list_path}")
        return self._class_index[entry.class_id]

    def image_labels(self, split: str, image_id: str) -> np.ndarray:
        """``bool [C]``: the image's breed (from ``list.txt``), whatever its trimap shows."""
        labels = np.zeros(self.num_classes, dtype=bool)
        labels[self.class_of(image_id)] = True
        return labels

    # ------------------------------------------------------------------ files
    def image_path(self, image_id: str) -> Path:
        return self.root / "images" / f"{image_id}.jpg"

    def mask_path(self, image_id: str) -> Path:
        return self.root / "annotations" / "trimaps" / f"{image_id}.png"

    def fingerprint(self, split: str) -> str:
        """16 hex digits over the breeds, the split (and the carve-out rule), each image's breed
        and each image's and trimap's size and mtime (one ``stat`` each; missing files count as a
        marker). Changes when a listed file is replaced or touched or an image changes breed."""
        digest = hashlib.sha256()
        digest.update("\n".join(self.class_names).encode())
        digest.update(f"\0{split}\0{CARVE_RULE if split in CARVED else ''}\0".encode())
        images, masks = f"{self.root}/images/", f"{self.root}/annotations/trimaps/"
        for image_id in self.split_ids(split):
            digest.update(f"{image_id}:{self.class_of(image_id)}".encode())
            digest_files(digest, (f"{images}{image_id}.jpg", f"{masks}{image_id}.png"))
        return digest.hexdigest()[:16]

    def load_image(self, image_id: str) -> np.ndarray:
        """The RGB image, ``uint8 [H, W, 3]``; ImageError naming the file if unreadable."""
        return read_rgb(self.image_path(image_id))

    def load_mask(self, image_id: str) -> np.ndarray:
        """The label mask ``uint8 [H, W]`` from the trimap: 0 background, ``c + 1`` the breed, 255
        void. ImageError (skipped with a warning) when unreadable; DatasetError when it holds a
        value other than 1, 2, 3."""
        path = self.mask_path(image_id)
        with open_image(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise ImageError(f"trimap {path} has mode {im.mode!r}; expected a one-channel PNG with values 1, 2, 3")
            trimap = np.asarray(im)
        values = np.unique(trimap)
        bad = [int(v) for v in values if int(v) not in TRIMAP_TO_LABEL]
        if bad:
            raise DatasetError(f"trimap {path} has values {bad[:5]} outside 1..3 (1 pet, 2 background, 3 border): "
                               f"not an Oxford-IIIT Pet trimap")
        lut = np.full(4, 255, dtype=np.uint8)
        lut[1], lut[2] = self.class_of(image_id) + 1, 0
        return lut[trimap.astype(np.int64)]

