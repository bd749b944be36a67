"""The embedded world's files on disk: written once, recorded, checked on each use, healed.

The world is rendered deterministically from its :class:`WorldConfig`, so a damaged file is not
lost data. Generation writes ``files.json``: each file's ``[size, mtime_ns, crc32]`` and the
configuration, sealed with its own CRC-32 (:mod:`repcam_core.storage.integrity`). Each use stats every
file (size and mtime; the CRC-32 only when the mtime moved). A damaged or missing file gets one
warning line, is moved to the cache's quarantine, is rendered again and gets its recorded mtime
back. The mtime matters: the VOC reader's fingerprint (size and mtime of each file) keys every
artifact computed from the world, so a healed world keeps them all valid. If the re-rendered
bytes differ from the record (another Pillow or libjpeg), the record takes the new file and the
new fingerprint recomputes what depends on it. A damaged record is rebuilt by comparing every
file with a fresh rendering. A world written before records existed is recorded as it is.
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zlib
from pathlib import Path
from typing import Any

from repcam_core.data.world import (SPLITS, WorldConfig, _metadata, _read_json, _write_atomically, default_world_dir,
                                    split_ids, text_files, write_sample)
from repcam_core.errors import IntegrityWarning
from repcam_core.storage.integrity import (
    TMP_MARK,
    Damaged,
    cache_lock,
    check_file,
    quarantine,
    read_sealed,
    record_files,
    remove_leftovers,
    seal,
    storage_errors,
)

RECORD = "files.json"
IMAGE_DIRS = ("JPEGImages", "SegmentationClass")


def write_voc(tmp: Path, config: WorldConfig) -> None:
    """Render the whole world into ``tmp`` (VOC layout; in child processes when it is large, see
    :mod:`repcam_core.data.world_render`) and record its files."""
    from repcam_core.data.world_render import render_images

    for sub in (*IMAGE_DIRS, "ImageSets/Segmentation"):
        (tmp / sub).mkdir(parents=True)
    render_images(tmp, config)
    for rel, text in text_files(config).items():
        (tmp / rel).write_text(text)
    record_world(tmp, config)


def voc_complete(out_dir: Path, config: WorldConfig) -> bool:
    """Whether ``out_dir`` holds every file of this world (names only; see :func:`world_problems`)."""
    if _read_json(out_dir / "world.json") != _metadata(config):
        return False
    listed = {d: set(os.listdir(out_dir / d)) if (out_dir / d).is_dir() else set() for d in IMAGE_DIRS}
    for split in SPLITS:
        split_file = out_dir / "ImageSets" / "Segmentation" / f"{split}.txt"
        ids = split_ids(config, split)
        if not split_file.is_file() or split_file.read_text().split() != ids:
            return False
        if any(f"{i}.jpg" not in listed["JPEGImages"] or f"{i}.png" not in listed["SegmentationClass"] for i in ids):
            return False
    return (out_dir / "classes.txt").is_file()


def record_world(root: Path, config: WorldConfig) -> None:
    """Write ``root/files.json``: every file's record and the configuration, sealed."""
    from repcam_core.storage.cache import write_json_atomic

    write_json_atomic(root / RECORD, seal({"config": config.to_dict(), "files": record_files(root, skip=(RECORD,))}))


def world_problems(root: Path, deep: bool = False) -> dict[str, str]:
    """Relative path -> what is wrong, for each damaged or missing file (empty: intact).

    ``deep``: compare every file's CRC-32, not only those whose mtime moved. Raises Damaged
    when the record itself is damaged.
    """
    record = read_sealed(root / RECORD)
    files = record.get("files")
    if not isinstance(files, dict):
        raise Damaged(root / RECORD, "no file list")
    problems, base = {}, str(root)
    for rel, record in files.items():
        if not deep:  # the common case, a stat per file (string paths: Path objects cost more here)
            try:
                st = os.stat(f"{base}/{rel}")
                if st.st_size == record[0] and st.st_mtime_ns == record[1]:
                    continue
            except OSError:
                pass
        problem = check_file(root / rel, record, deep)
        if problem:
            problems[rel] = problem
    return problems


def ensure_world(out: Path, config: WorldConfig, cache_root: Path) -> Path:
    """The world at ``out``: healed when damaged, generated (under a lock) when missing."""
    with storage_errors(cache_root):
        if (out / RECORD).is_file():
            heal_world(out, config, cache_root)
            if voc_complete(out, config):
                return out
        with cache_lock(cache_root, out):
            remove_leftovers(out)  # we hold the lock: temporary siblings belong to killed writers
            path = generate_world(out, config)
            if not (path / RECORD).is_file():
                record_world(path, config)  # written before records existed: trusted as it is
        return path


def heal_world(root: Path, config: WorldConfig, cache_root: Path, deep: bool = False) -> int:
    """Re-render every damaged or missing file of the world at ``root``; returns how many."""
    try:
        if not world_problems(root, deep):
            return 0
    except Damaged:
        pass
    with cache_lock(cache_root, root):
        try:  # again under the lock: another process may have healed it meanwhile
            problems = world_problems(root, deep)
            recorded = read_sealed(root / RECORD)["files"]
        except Damaged as damage:
            quarantine(root / RECORD, cache_root, damage.problem, "comparing every file with a fresh rendering")
            healed = 0
            for rel in expected_files(config):
                path, data = root / rel, render_file(config, rel)
                if not (path.is_file() and path.read_bytes() == data):
                    _rewrite(path, data, "differs from a fresh rendering" if path.exists() else "missing", cache_root)
                    healed += 1
            record_world(root, config)
            return healed
        differ, expected = False, set(expected_files(config))
        for rel, problem in problems.items():
            if rel not in expected:  # recorded from an older directory, not part of the world: set aside
                if (root / rel).exists():
                    quarantine(root / rel, cache_root, problem, "it is not a file of this world")
                differ = True
                continue
            data = render_file(config, rel)
            _rewrite(root / rel, data, problem, cache_root)
            differ |= not _restamp(root / rel, data, recorded[rel])
        if differ:
            record_world(root, config)
        return len(problems)


def expected_files(config: WorldConfig) -> list[str]:
    """Relative path of every file of this world but the record."""
    ids = [i for s in SPLITS for i in split_ids(config, s)]
    return [*text_files(config), *(f"JPEGImages/{i}.jpg" for i in ids), *(f"SegmentationClass/{i}.png" for i in ids)]


def render_file(config: WorldConfig, rel: str) -> bytes:
    """The bytes the world's file ``rel`` must hold."""
    texts = text_files(config)
    if rel in texts:
        return texts[rel].encode()
    folder, _, name = rel.partition("/")
    split, _, index = name.rsplit(".", 1)[0].rpartition("_")
    if folder not in IMAGE_DIRS or split not in SPLITS or not index.isdigit():
        raise Damaged(Path(rel), "not a file of this world")
    with tempfile.TemporaryDirectory() as tmp:
        for sub in IMAGE_DIRS:
            (Path(tmp) / sub).mkdir()
        write_sample(Path(tmp), config, split, int(index))
        return (Path(tmp) / rel).read_bytes()


def _rewrite(path: Path, data: bytes, problem: str, cache_root: Path) -> None:
    """Move ``path`` aside (warning once) and write ``data`` in its place atomically."""
    if path.exists():
        quarantine(path, cache_root, problem, "rendering it again")
    else:
        warnings.warn(f"{path} is missing; rendering it again", IntegrityWarning, stacklevel=3)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    with storage_errors(cache_root):
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _restamp(path: Path, data: bytes, record: list[Any]) -> bool:
    """Give a re-rendered file its recorded mtime when its bytes match the record; False if not."""
    size, mtime_ns, crc = record
    if [len(data), f"{zlib.crc32(data):08x}"] != [size, crc]:
        warnings.warn(f"{path} rendered again differs from its record (another Pillow or libjpeg?); what was "
                      f"computed from it will be recomputed", IntegrityWarning, stacklevel=3)
        return False
    os.utime(path, ns=(path.stat().st_atime_ns, mtime_ns))  # same bytes, same fingerprint: nothing to recompute
    return True


def generate_world(out_dir: str | Path, config: WorldConfig = WorldConfig()) -> Path:
    """Write the world in the VOC 2012 layout under ``out_dir`` and return it.

    Layout: ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` ('P' mode, VOC palette),
    ``ImageSets/Segmentation/{train,val}.txt``, ``classes.txt``, ``world.json``.
    Idempotent; atomic; DatasetError if ``out_dir`` holds other content.
    """
    return _write_atomically(Path(out_dir), config, voc_complete, lambda tmp: write_voc(tmp, config))


def ensure_default_world(cache_root: str | Path, config: WorldConfig = WorldConfig()) -> Path:
    """Generate the world under ``default_world_dir`` unless it is already there; damaged files
    are re-rendered (:mod:`repcam_core.data.world_files`)."""
    return ensure_world(default_world_dir(cache_root, config), config, Path(cache_root))
