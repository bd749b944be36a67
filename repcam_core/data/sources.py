"""Resolve a ``--dataset`` string to a reader: the embedded world (default), a VOC-layout
directory (``PATH`` or ``voc:PATH``), a COCO 2017 directory (``coco:PATH``) or an Oxford-IIIT
Pet directory in its own layout (``pets:PATH``).

Split names a kind lacks: :data:`SPLIT_DEFAULTS` maps RunConfig's default evaluation split to
the kind's own (the Pet download has ``trainval``/``test``, no ``val``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from repcam_core.errors import DatasetError

EMBEDDED = "embedded"
KINDS = ("voc", "coco", "pets")
"""Prefixes of ``KIND:DIR`` (a bare directory is VOC)."""
SPLIT_DEFAULTS: dict[str, dict[str, str]] = {"pets": {"val": "test"}}
"""Per dataset kind: an evaluation split name the kind does not have -> the one it uses instead."""


def parse_dataset_spec(spec: str) -> tuple[str, str]:
    """``"embedded"`` -> ("embedded", ""); ``"voc:/d"`` or ``"/d"`` -> ("voc", "/d"); ``"coco:/d"`` ->
    ("coco", "/d"); ``"pets:/d"`` -> ("pets", "/d")."""
    spec = spec.strip()
    if not spec:
        raise DatasetError("empty dataset; use 'embedded', a VOC-layout directory, voc:DIR, coco:DIR or pets:DIR")
    if spec == EMBEDDED:
        return EMBEDDED, ""
    kind, sep, rest = spec.partition(":")
    if sep and kind in KINDS:
        if not rest:
            raise DatasetError(f"dataset {spec!r} names no directory")
        return kind, rest
    return "voc", spec


def default_eval_split(spec: str, eval_split: str) -> str:
    """``eval_split`` as the dataset of ``spec`` names it: ``val`` is ``test`` for ``pets:``
    (RunConfig's default then works there with no option); every other name is kept."""
    try:
        kind = parse_dataset_spec(spec)[0]
    except DatasetError:
        return eval_split  # an empty spec fails where the dataset is opened, with its message
    return SPLIT_DEFAULTS.get(kind, {}).get(eval_split, eval_split)


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
        from repcam_core.data.world import WorldConfig
        from repcam_core.data.world_files import ensure_default_world

        return VOCDataset(ensure_default_world(cache_root, WorldConfig.from_dict(dict(world or {}))))
    if kind == "coco":
        from repcam_core.data.coco import COCODataset

        return COCODataset(Path(path).expanduser())
    if kind == "pets":
        from repcam_core.data.pets import PetDataset

        return PetDataset(Path(path).expanduser())
    from repcam_core.data.voc import VOCDataset

    return VOCDataset(Path(path).expanduser())
