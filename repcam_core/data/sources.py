"""Resolve a ``--dataset`` string to a reader: the embedded world (default), a VOC-layout
directory (``PATH`` or ``voc:PATH``) or a COCO 2017 directory (``coco:PATH``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from repcam_core.errors import DatasetError

EMBEDDED = "embedded"


def parse_dataset_spec(spec: str) -> tuple[str, str]:
    """``"embedded"`` -> ("embedded", ""); ``"voc:/d"`` or ``"/d"`` -> ("voc", "/d"); ``"coco:/d"`` -> ("coco", "/d")."""
    spec = spec.strip()
    if not spec:
        raise DatasetError("empty dataset; use 'embedded', a VOC-layout directory, voc:DIR or coco:DIR")
    if spec == EMBEDDED:
        return EMBEDDED, ""
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("voc", "coco"):
        if not rest:
            raise DatasetError(f"dataset {spec!r} names no directory")
        return kind, rest
    return "voc", spec


def dataset_pending(spec: str, cache_root: Path, world: Mapping[str, Any] | None = None) -> bool:
    """Whether opening ``spec`` would first generate the embedded world (it is not on disk yet, or
    is being generated): one ``stat``, nothing generated or read. False for real datasets."""
    kind, _ = parse_dataset_spec(spec)
    if kind != EMBEDDED:
        return False
    from repcam_core.data.world import WorldConfig, default_world_dir
    from repcam_core.data.world_files import RECORD

    return not (default_world_dir(cache_root, WorldConfig.from_dict(dict(world or {}))) / RECORD).is_file()


def open_dataset(spec: str, cache_root: Path, world: Mapping[str, Any] | None = None):
    """The dataset reader for ``spec``; the embedded world is generated into the cache on first use."""
    kind, path = parse_dataset_spec(spec)
    if kind == EMBEDDED:
        from repcam_core.data.voc import VOCDataset
        from repcam_core.data.world import WorldConfig, ensure_default_world

        return VOCDataset(ensure_default_world(cache_root, WorldConfig.from_dict(dict(world or {}))))
    if kind == "coco":
        from repcam_core.data.coco import COCODataset

        return COCODataset(Path(path).expanduser())
    from repcam_core.data.voc import VOCDataset

    return VOCDataset(Path(path).expanduser())
