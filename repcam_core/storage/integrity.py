"""What keeps the cache honest: file records, checks, quarantine, locks and storage errors.

Everything RepCAM writes to its cache (artifact entries, decoded splits, the embedded world) is
recorded file by file as ``[size, mtime_ns, crc32]`` and checked before it is used:

* **Size, always** (one ``stat``): catches truncation, the common damage of a full disk or a
  killed copy.
* **CRC-32 of the bytes** (zlib, about 3 GB/s here): catches flipped or overwritten bytes. It is
  an error-detecting code, not a cryptographic hash: it guards against accidents, not tampering.
  A file about to be loaded is always checked in full (a few ms per 10 MB, small next to
  deserialising it); a file that is only vouched for (an input of a cached result) is checked in
  full only when its mtime moved, as any write does. A file whose bytes are intact but whose
  mtime moved (a copy without ``-p``) gets its recorded mtime back, so the next check is cheap.
* **Quarantine, never deletion**: a damaged item is moved to ``ROOT/.quarantine/<its path>~<ns>``
  with a line in ``ROOT/.quarantine/log.jsonl`` saying why, then recomputed.

Temporary files and directories all carry ``.tmp-`` in their name (a killed writer leaves one;
:func:`remove_leftovers` clears them under the item's lock). Write failures that come from the
storage (full disk, read-only directory, no permission) become one :class:`CacheWriteError` line.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, Iterator, Mapping

from repcam_core.errors import CacheWriteError, IntegrityWarning

QUARANTINE = ".quarantine"
LOCKS = ".locks"
TMP_MARK = ".tmp-"
SEAL = "crc32"
"""Key of a record's own checksum (over its canonical JSON without this key)."""
_CHUNK = 1 << 20
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EROFS, errno.EACCES, errno.EPERM)
STORAGE_ERRNOS = _FULL + _DENIED
"""What a storage refusal looks like: a full disk or quota, a read-only or forbidden place."""


class Damaged(Exception):
    """``path`` (a file or a cache entry) is not what its record says; ``problem`` in words."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), problem


# ------------------------------------------------------------------ records and checks
def crc32_file(path: str | os.PathLike[str]) -> str:
    """CRC-32 of the file's bytes as 8 hex digits."""
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def file_record(path: str | os.PathLike[str]) -> list[Any]:
    """``[size, mtime_ns, crc32]`` of one file (a ``str`` path is fine: no Path per file of a big tree)."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, crc32_file(path)]


def record_files(directory: Path, skip: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """Records of every file under ``directory`` by relative POSIX path (``skip``: names left out;
    temporary leftovers are never recorded)."""
    out = {}
    for folder, dirs, files in os.walk(directory):
        dirs.sort()
        rel = os.path.relpath(folder, directory)
        for name in sorted(files):
            if name in skip or (name.startswith(".") and TMP_MARK in name):
                continue
            key = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
            out[key] = file_record(os.path.join(folder, name))  # str paths: thousands of world files stay cheap
    return dict(sorted(out.items()))


def check_file(path: Path, record: list[Any], deep: bool = True) -> str | None:
    """None when ``path`` matches ``record``, else what is wrong, in words.

    ``deep``: always compare the CRC-32; otherwise only when the mtime differs from the record.
    """
    size, mtime_ns, crc = record
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if st.st_size != size:
        if st.st_size < size:
            return f"truncated to {st.st_size} of {size} bytes"
        return f"{st.st_size} bytes, {size} written"
    if not deep and st.st_mtime_ns == mtime_ns:
        return None
    try:
        actual = crc32_file(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if actual != crc:
        return f"bytes changed (CRC-32 {actual}, {crc} when written)"
    if st.st_mtime_ns != mtime_ns:  # intact bytes, new mtime (a copy): restore it so later checks stay cheap
        with contextlib.suppress(OSError):  # a read-only cache keeps the slower check; nothing else changes
            os.utime(path, ns=(st.st_atime_ns, mtime_ns))
    return None


def seal(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with its own CRC-32 under :data:`SEAL` (so a damaged record is noticed too)."""
    body = {k: v for k, v in data.items() if k != SEAL}
    return {**body, SEAL: _json_crc(body)}


def seal_problem(data: Any) -> str | None:
    """None when a sealed record is intact (records written before seals existed pass)."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if SEAL not in data:
        return None
    return None if data[SEAL] == _json_crc({k: v for k, v in data.items() if k != SEAL}) else "bytes changed"


def read_sealed(path: Path) -> dict[str, Any]:
    """The sealed JSON record at ``path``; :class:`Damaged` when unreadable or altered."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Damaged(path, f"unreadable ({type(exc).__name__}: {exc})") from None
    problem = seal_problem(data)
    if problem:
        raise Damaged(path, problem)
    return data


def _json_crc(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return f"{zlib.crc32(text.encode()):08x}"


# ------------------------------------------------------------------ quarantine
def quarantine(path: Path, root: Path, problem: str, action: str = "recomputing it") -> Path:
    """Move ``path`` (file or directory) to ``root/.quarantine`` and warn in one line naming it.

    Returns where it went. Raises CacheWriteError when the cache cannot be written.
    """
    path, root = Path(path), Path(root)
    rel = _relative(path, root)
    dest = root / QUARANTINE / f"{rel}~{time.time_ns()}"
    with storage_errors(root):
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    with contextlib.suppress(OSError):  # the log only explains the move; the move itself succeeded
        with open(root / QUARANTINE / "log.jsonl", "a") as fh:
            fh.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "from": rel,
                                 "to": _relative(dest, root), "problem": problem}) + "\n")
    warnings.warn(f"{path} is damaged ({problem}); moved to {dest}, {action}", IntegrityWarning, stacklevel=3)
    return dest


def quarantined_after(path: Path, root: Path, after_ns: int) -> bool:
    """Whether ``path`` was moved to quarantine later than ``after_ns`` (and not recomputed since)."""
    rel = _relative(Path(path), Path(root))
    folder = Path(root) / QUARANTINE / Path(rel).parent
    for item in folder.glob(f"{Path(rel).name}~*") if folder.is_dir() else ():
        stamp = item.name.rpartition("~")[2]
        if stamp.isdigit() and int(stamp) > after_ns:
            return True
    return False


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


# ------------------------------------------------------------------ locks and leftovers
@contextlib.contextmanager
def cache_lock(root: Path, path: Path, blocking: bool = True) -> Iterator[bool]:
    """Inter-process lock of one cache item (``ROOT/.locks/<parent>-<name>.lock``).

    Yields True once held; with ``blocking=False`` yields False at once when another holds it.
    """
    locks = Path(root) / LOCKS
    with storage_errors(root):
        locks.mkdir(parents=True, exist_ok=True)
        fh = open(locks / f"{path.parent.name}-{path.name}.lock", "a")
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def leftovers_of(path: Path) -> list[Path]:
    """Temporary siblings ``.<name>.tmp-*`` that writers of ``path`` left behind."""
    return sorted(path.parent.glob(f".{path.name}{TMP_MARK}*")) if path.parent.is_dir() else []


def remove_leftovers(path: Path) -> int:
    """Remove what killed writers of ``path`` left; call while holding ``path``'s lock."""
    found = leftovers_of(path)
    for item in found:
        remove(item)
    return len(found)


def leftover_target(item: Path) -> Path | None:
    """The item a temporary ``.<name>.tmp-*`` was being written for (None: not a leftover)."""
    name = item.name
    if not name.startswith(".") or TMP_MARK not in name:
        return None
    return item.with_name(name[1:name.index(TMP_MARK)])


def remove_leftover(root: Path, item: Path) -> bool:
    """Remove the temporary leftover ``item`` (see :func:`leftover_target`) unless its item is
    being written now (its lock held elsewhere); True when removed."""
    target = leftover_target(item)
    if target is None:
        raise ValueError(f"{item} is not a temporary leftover")
    with cache_lock(root, target, blocking=False) as free:
        if free:
            remove(item)
        return free


def remove(item: Path) -> None:
    """Remove a file or a directory tree (already gone is fine)."""
    if item.is_dir() and not item.is_symlink():
        shutil.rmtree(item, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            item.unlink()


# ------------------------------------------------------------------ storage errors
def storage_error(exc: OSError, root: Path) -> CacheWriteError | None:
    """The one-line error for a write the storage refused (full, read-only, not permitted), or None."""
    name = getattr(exc, "filename", None)
    inside = name is not None and _is_under(Path(name), Path(root))
    if exc.errno in _FULL:
        what = f"the cache {root} is full" if inside or name is None else f"cannot write {name}: the disk is full"
    elif exc.errno in _DENIED and inside:
        what = f"the cache {root} cannot be written (read-only or not yours)"
    else:
        return None
    where = f" ({name})" if name else ""
    return CacheWriteError(f"{what}: {exc.strerror}{where}. What the cache holds is intact; free space or make it "
                           f"writable (or choose another --cache / $REPCAM_CACHE) and run the same command again")


@contextlib.contextmanager
def storage_errors(root: Path) -> Iterator[None]:
    """Turn storage refusals inside the block into :class:`CacheWriteError` (other errors pass)."""
    try:
        yield
    except OSError as exc:
        err = storage_error(exc, root)
        if err is None:
            raise
        raise err from exc


def _is_under(path: Path, root: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
        return True
    except ValueError:
        return False


def save_arrays(arrays: Mapping[str, Any], path: Path) -> None:
    """:func:`save_tensors` for numpy arrays (``safetensors.numpy``)."""
    from safetensors.numpy import save

    Path(path).write_bytes(save(dict(arrays)))


def save_tensors(tensors: Mapping[str, Any], path: Path) -> None:
    """A safetensors file written through Python's file layer, so that a full disk or a read-only
    directory is an OSError (see :func:`storage_errors`), not a serialiser's own error type."""
    from safetensors.torch import save

    Path(path).write_bytes(save(dict(tensors)))
