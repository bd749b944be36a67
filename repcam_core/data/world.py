"""The embedded synthetic dataset ("the world"), written in the PASCAL VOC 2012 layout.

The world carries the paper's premise. Every class is an object built from parts. Classes of
one *family* share a body shape and shared parts (wheels and windows, legs and head, ...), and
each class differs from its siblings by ONE small distinguishing part: a marker of a
class-specific shape at a class-specific place on the body (a few % of the object's area).
Body colour and texture come from a palette shared by all classes, so colour is no class cue.
A multi-class classifier can separate siblings by the marker alone (local CAMs), while a
binary classifier against a class of another family can use the whole body and shared parts.

Counting: ``train_per_class`` / ``val_per_class`` count the images whose *first* object is
the class; ``floor(n * multi_object_fraction)`` of those also hold a second object of another
class (any family). So every class has at least ``n * (1 - fraction)`` single-label images.
Families beyond the four body types reuse a type, stretched vertically (taller per cycle).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from repcam_core.schema import check_types
from repcam_core.data.palette import voc_palette
from repcam_core.data.world_draw import (
    MAX_CLASSES_PER_FAMILY,
    RenderedObject,
    background,
    class_design,
    draw_object,
    random_look,
    random_pose,
    void_band,
)
from repcam_core.errors import ConfigError, DatasetError

WORLD_VERSION = 2
SPLITS = ("train", "val", "calib")
"""Image splits of the world: training, evaluation, and calibration (for the calibrated protocol:
thresholds are chosen on ``calib``, never on ``val``). Each has its own random stream."""
COCO_SPLITS = ("train", "val")
FAMILY_NAMES = ("vehicles", "animals", "furniture", "flyers")
CLASS_NAMES = (
    ("bus", "car", "train", "tram", "truck"),
    ("cat", "dog", "cow", "sheep", "horse"),
    ("chair", "sofa", "table", "bed", "shelf"),
    ("plane", "bird", "kite", "drone", "glider"),
)


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a generated world; equal configs give identical bytes."""

    seed: int = 0
    n_families: int = 4
    classes_per_family: int = 5
    train_per_class: int = 60
    val_per_class: int = 12
    calib_per_class: int = 12
    multi_object_fraction: float = 0.2
    width: int = 80
    height: int = 64
    void_width: int = 1
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        checks = [
            (self.n_families >= 2, f"n_families must be >= 2, got {self.n_families}"),
            (
                2 <= self.classes_per_family <= MAX_CLASSES_PER_FAMILY,
                f"classes_per_family must be in 2..{MAX_CLASSES_PER_FAMILY}, "
                f"got {self.classes_per_family}",
            ),
            (self.train_per_class >= 1, f"train_per_class must be >= 1, got {self.train_per_class}"),
            (self.val_per_class >= 1, f"val_per_class must be >= 1, got {self.val_per_class}"),
            (self.calib_per_class >= 1, f"calib_per_class must be >= 1, got {self.calib_per_class}"),
            (
                0.0 <= self.multi_object_fraction < 1.0,
                f"multi_object_fraction must be in [0, 1), got {self.multi_object_fraction}",
            ),
            (self.width >= 32 and self.height >= 32,
             f"width and height must be >= 32, got {self.width}x{self.height}"),
            (self.void_width >= 0, f"void_width must be >= 0, got {self.void_width}"),
            (1 <= self.jpeg_quality <= 100, f"jpeg_quality must be in 1..100, got {self.jpeg_quality}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"invalid WorldConfig: {message}")

    @property
    def num_classes(self) -> int:
        return self.n_families * self.classes_per_family

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown WorldConfig keys: {', '.join(unknown)}")
        check_types(cls, data, prefix="world.")
        return cls(**data)

    def short_hash(self) -> str:
        """10 hex digits over the config and the generator version."""
        blob = json.dumps({"v": WORLD_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


def class_names(config: WorldConfig) -> tuple[str, ...]:
    """Foreground class names in label order (class ``c`` has mask value ``c + 1``)."""
    names = []
    for f in range(config.n_families):
        for k in range(config.classes_per_family):
            known = f < len(CLASS_NAMES) and k < len(CLASS_NAMES[f])
            names.append(CLASS_NAMES[f][k] if known else f"fam{f}-cls{k}")
    return tuple(names)


def families(config: WorldConfig) -> dict[str, list[str]]:
    """Family name -> its class names."""
    names, cpf = class_names(config), config.classes_per_family
    return {
        (FAMILY_NAMES[f] if f < len(FAMILY_NAMES) else f"family{f}"): list(names[f * cpf:(f + 1) * cpf])
        for f in range(config.n_families)
    }


@dataclass(frozen=True)
class WorldSample:
    """One generated image: ``image uint8 [H, W, 3]``, ``mask uint8 [H, W]`` (0, c+1, 255),
    ``instances int8 [H, W]`` (visible object index or -1) and the drawn objects in order."""

    image: np.ndarray
    mask: np.ndarray
    instances: np.ndarray
    objects: tuple[RenderedObject, ...]


@lru_cache(maxsize=8)
def split_plan(config: WorldConfig, split: str) -> tuple[tuple[int, int | None], ...]:
    """The split's images in id order, each ``(first class, second class or None)``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown world split {split!r}; choose one of: {', '.join(SPLITS)}")
    n = {"train": config.train_per_class, "val": config.val_per_class, "calib": config.calib_per_class}[split]
    n_multi = math.floor(n * config.multi_object_fraction)
    rng = np.random.default_rng([config.seed, SPLITS.index(split), 0])
    plan: list[tuple[int, int | None]] = []
    for c in range(config.num_classes):
        for k in range(n):
            second = None
            if k < n_multi:
                second = int(rng.integers(config.num_classes - 1))
                second += second >= c
            plan.append((c, second))
    return tuple(plan[i] for i in rng.permutation(len(plan)))


def render_sample(config: WorldConfig, split: str, index: int) -> WorldSample:
    """Render image ``index`` of ``split``; depends only on (config, split, index)."""
    first, second = split_plan(config, split)[index]
    rng = np.random.default_rng([config.seed, SPLITS.index(split), 1, index])
    canvas = background(rng, config.width, config.height)
    mid, half = config.width / 2, config.height / 2
    if second is None:
        specs = [(first, rng.uniform(0.45, 0.75), mid + rng.uniform(-0.12, 0.12) * half)]
    else:
        offset = 0.45 * half + rng.uniform(-2, 2)
        specs = [(first, rng.uniform(0.32, 0.42), mid - offset), (second, rng.uniform(0.32, 0.42), mid + offset)]
        if rng.random() < 0.5:
            specs.reverse()  # either object may be drawn on top
    instances = np.full((config.height, config.width), -1, np.int8)
    objects = []
    for i, (cls, frac, cx) in enumerate(specs):
        design = class_design(cls, config.classes_per_family)
        pose = random_pose(rng, config.width, config.height, design, float(frac), float(cx))
        obj = draw_object(canvas, design, pose, random_look(rng, design.marker_colour))
        instances[obj.full] = i
        objects.append(obj)
    mask = np.zeros(instances.shape, np.uint8)
    void = np.zeros(instances.shape, bool)
    for i, obj in enumerate(objects):
        visible = instances == i
        mask[visible] = obj.class_index + 1
        void |= void_band(visible, config.void_width)
    mask[void] = 255
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return WorldSample(image=image, mask=mask, instances=instances, objects=tuple(objects))


def split_ids(config: WorldConfig, split: str) -> list[str]:
    return [f"{split}_{i:05d}" for i in range(len(split_plan(config, split)))]


# ----------------------------------------------------------------------------- writers
def _save_jpeg(image: np.ndarray, path: Path, quality: int) -> None:
    # 4:4:4 chroma keeps the few-pixel markers' colours crisp at these tiny sizes.
    Image.fromarray(image).save(path, format="JPEG", quality=quality, subsampling=0)


def _metadata(config: WorldConfig) -> dict[str, Any]:
    return {"version": WORLD_VERSION, "config": config.to_dict(), "families": families(config),
            "classes": list(class_names(config))}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_atomically(out_dir: Path, config: WorldConfig, complete: Callable[[Path, WorldConfig], bool],
                      write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_dir)`` in a temp sibling and rename it to ``out_dir``.

    Returns at once when ``out_dir`` already holds this world; raises DatasetError when it
    holds anything else. A concurrent writer that wins the rename is accepted.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        if complete(out_dir, config):
            return out_dir
        if not out_dir.is_dir() or any(out_dir.iterdir()):
            raise DatasetError(
                f"{out_dir} is not empty and does not hold this world (config {config.to_dict()}); "
                "choose another directory or delete it"
            )
        out_dir.rmdir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        write(tmp)
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if not complete(out_dir, config):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


@lru_cache(maxsize=1)
def _palette() -> list[int]:
    return voc_palette()


def write_sample(root: Path, config: WorldConfig, split: str, index: int) -> None:
    """Render sample ``index`` of ``split`` to ``root``'s ``JPEGImages`` and ``SegmentationClass``."""
    image_id = f"{split}_{index:05d}"  # as split_ids() names them
    sample = render_sample(config, split, index)
    _save_jpeg(sample.image, root / "JPEGImages" / f"{image_id}.jpg", config.jpeg_quality)
    png = Image.fromarray(sample.mask)
    png.putpalette(_palette())
    png.save(root / "SegmentationClass" / f"{image_id}.png")


def text_files(config: WorldConfig) -> dict[str, str]:
    """The world's text files by relative path: split lists, ``classes.txt``, ``world.json``."""
    out = {f"ImageSets/Segmentation/{s}.txt": "\n".join(split_ids(config, s)) + "\n" for s in SPLITS}
    out["classes.txt"] = "\n".join(class_names(config)) + "\n"
    out["world.json"] = json.dumps(_metadata(config), indent=2) + "\n"
    return out


def default_world_dir(cache_root: str | Path, config: WorldConfig = WorldConfig()) -> Path:
    return Path(cache_root) / "datasets" / f"world-{config.short_hash()}"


# ----------------------------------------------------------------------------- COCO
def coco_category_id(class_index: int) -> int:
    """Non-contiguous like COCO's: 1, 2, 3, 5, 6, 7, 9, ..."""
    return class_index + 1 + class_index // 3


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """Uncompressed COCO RLE of ``bool [H, W]``: column-major run lengths starting with zeros."""
    flat = np.asarray(mask, bool).T.reshape(-1)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    if flat.size and flat[0]:
        runs = [0] + runs
    return {"counts": [int(r) for r in runs], "size": [int(mask.shape[0]), int(mask.shape[1])]}


def _hull_polygon(region: np.ndarray) -> list[float]:
    """Convex hull of the region's pixel corners as a flat ``[x1, y1, x2, y2, ...]`` list."""
    ys, xs = np.nonzero(region)
    pts = set()
    for y in np.unique(ys):
        row = xs[ys == y]
        for x in (row.min(), row.max() + 1):
            pts.update({(int(x), int(y)), (int(x), int(y) + 1)})
    ordered = sorted(pts)

    def half(points):
        chain: list[tuple[int, int]] = []
        for p in points:
            while len(chain) >= 2 and (
                (chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])
            ) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = half(ordered) + half(ordered[::-1])
    return [float(c) for p in hull for c in p]


def _coco_complete(out_dir: Path, config: WorldConfig) -> bool:
    for split in COCO_SPLITS:
        data = _read_json(out_dir / "annotations" / f"instances_{split}2017.json")
        if not data or data.get("info", {}).get("repcam_world") != _metadata(config):
            return False
        folder = out_dir / f"{split}2017"
        if not all((folder / im["file_name"]).is_file() for im in data["images"]):
            return False
    return True


def _write_coco(tmp: Path, config: WorldConfig) -> None:
    (tmp / "annotations").mkdir()
    categories = [{"id": coco_category_id(c), "name": name, "supercategory": fam}
                  for fam, names in families(config).items() for c, name in
                  ((class_names(config).index(n), n) for n in names)]
    ann_id = 0
    for s, split in enumerate(COCO_SPLITS):
        (tmp / f"{split}2017").mkdir()
        images, annotations = [], []
        for index in range(len(split_plan(config, split))):
            sample = render_sample(config, split, index)
            image_id = (s + 1) * 1_000_000 + index
            file_name = f"{image_id:012d}.jpg"
            _save_jpeg(sample.image, tmp / f"{split}2017" / file_name, config.jpeg_quality)
            images.append({"id": image_id, "file_name": file_name,
                           "width": config.width, "height": config.height})
            for i, obj in enumerate(sample.objects):
                region = sample.instances == i
                if not region.any():
                    continue
                ann_id += 1
                ys, xs = np.nonzero(region)
                polygon = _hull_polygon(region)
                use_rle = ann_id % 5 == 1 or len(polygon) < 6  # the first one is always RLE
                annotations.append({
                    "id": ann_id, "image_id": image_id, "iscrowd": 0,
                    "category_id": coco_category_id(obj.class_index),
                    "segmentation": rle_encode(region) if use_rle else [polygon],
                    "area": float(region.sum()),
                    "bbox": [float(xs.min()), float(ys.min()),
                             float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)],
                })
        data = {"info": {"description": "RepCAM synthetic world", "repcam_world": _metadata(config)},
                "licenses": [], "categories": categories, "images": images, "annotations": annotations}
        (tmp / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))


def write_coco(out_dir: str | Path, config: WorldConfig = WorldConfig()) -> Path:
    """Write the same world in the COCO 2017 layout (``{train,val}2017/``, ``annotations/``).

    Categories have non-contiguous ids; segmentations are convex-hull polygons, with every
    fifth annotation (the first included) as uncompressed RLE. Idempotent and atomic.
    """
    return _write_atomically(Path(out_dir), config, _coco_complete, lambda tmp: _write_coco(tmp, config))
