"""The artifact cache: every model, matrix, map and table lives here, keyed by its configuration.

Layout: ``ROOT/<kind>/<key>/`` holds the artifact's files and ``manifest.json`` (schema version,
library versions, the configuration subset that produced it, a record of each file and the
entries it was computed from). An entry is written into a temporary sibling directory and renamed
into place only when complete, so a crash never leaves a half-written artifact; an inter-process
lock per entry makes a second process (another CLI run, another browser tab) wait for the first
instead of computing the same thing again.

Integrity (records and quarantine: :mod:`repcam_core.storage.integrity`). Before a cached entry is used,
its files are checked against the manifest (size and CRC-32), and so are, more cheaply, the
entries it was computed from (``inputs``: every entry read while creating it, recorded
automatically). A damaged entry gets one warning line, is moved to ``ROOT/.quarantine`` and is
recomputed. When the damage is in an *input*, the entry that was asked for is recomputed as well:
that is what recomputes the input (the cache can only make an entry while someone asks for it),
and a deterministic computation gives the same bytes again. An input the user deleted is not
damage: what was computed from it stays valid. A loader that fails on what was just computed is a
bug and raises (no recompute loop). Storage refusals (full disk, read-only directory) become one
:class:`~repcam_core.errors.CacheWriteError` line; temporary directories are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from repcam_core import __version__
from repcam_core.errors import CacheVersionError, RepCAMError
from repcam_core.storage.integrity import (
    TMP_MARK,
    Damaged,
    cache_lock,
    check_file,
    leftover_target,
    quarantine,
    quarantined_after,
    read_sealed,
    record_files,
    remove,
    remove_leftover,
    remove_leftovers,
    seal,
    storage_errors,
)
from repcam_core.storage.machine import machine
from repcam_core.storage.machine import merge as merge_machines

T = TypeVar("T")
MANIFEST = "manifest.json"
INPUTS = "inputs.json"
"""Stat records of every entry an entry was computed from (transitively), written beside it."""
_ABSENT = object()


SCHEMA_VERSION = 1
"""Bumped whenever an artifact's on-disk format or meaning changes."""


def config_hash(data: Mapping[str, Any]) -> str:
    """Stable short hash of a JSON-able mapping (the cache key of an artifact)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$REPCAM_CACHE`` if set, else the user's cache directory (e.g. ``~/.cache/repcam``)."""
    env = os.environ.get("REPCAM_CACHE")
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("repcam", appauthor=False))
    except ImportError:  # pragma: no cover - platformdirs is a requirement
        return Path.home() / ".cache" / "repcam"


class ArtifactCache:
    """Config-keyed, atomically written, resumable, self-checking artifact store."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        with storage_errors(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
        self._vouched: set[str] = set()  # inputs ("kind/key") this object found intact
        self._local = threading.local()  # .inputs: one set per entry being created in this thread

    def entry(self, kind: str, key: Mapping[str, Any]) -> Path:
        """Directory of the artifact ``kind`` produced by configuration ``key``."""
        return self.root / kind / config_hash(key)

    def has(self, kind: str, key: Mapping[str, Any]) -> bool:
        """Whether the entry is present (a damaged one counts: using it moves it aside and recomputes it)."""
        path = self.entry(kind, key)
        if not (path / MANIFEST).is_file():
            return False
        with contextlib.suppress(Damaged):
            self._read_manifest(path)
        return True

    def manifest(self, kind: str, key: Mapping[str, Any]) -> dict[str, Any]:
        return json.loads((self.entry(kind, key) / MANIFEST).read_text())

    @staticmethod
    def computed_on(path: Path) -> list[dict[str, Any]]:
        """The machine records (:mod:`repcam_core.storage.machine`) of the entry at ``path`` and of every
        entry it was computed from; [] for an entry written before they were recorded."""
        man = json.loads((path / MANIFEST).read_text())
        return man.get("computed_on") or merge_machines([man.get("machine")])

    def get_or_create(
        self,
        kind: str,
        key: Mapping[str, Any],
        create: Callable[[Path], None],
        load: Callable[[Path], T],
    ) -> T:
        """Load the artifact if present and intact; otherwise ``create(tmpdir)`` writes its files,
        the entry is published atomically, and it is loaded. Concurrent callers wait on a lock."""
        path = self.entry(kind, key)
        self._note(path)
        value = self._load_intact(path, load, heal=False)
        if value is not _ABSENT:
            return value
        with self._lock(path):
            value = self._load_intact(path, load, heal=True)  # another process may have made it meanwhile
            if value is not _ABSENT:
                return value
            self._create(path, kind, key, create)
        return load(path)  # just computed: a loader failing here is a bug, raised as is

    def note_use(self, kind: str, key: Mapping[str, Any]) -> None:
        """Record that the entry being created reads ``(kind, key)``, for callers that kept the
        value in memory and so skip :meth:`get_or_create`."""
        self._note(self.entry(kind, key))

    def check(self, path: Path, deep: bool = True, inputs: bool = True) -> None:
        """Raise :class:`~repcam_core.storage.integrity.Damaged` when the entry at ``path`` (or, with
        ``inputs``, an entry it was computed from) is damaged; CacheVersionError when it was
        written by another cache schema. ``deep``: CRC-32 of every file, not only changed ones."""
        man = self._read_manifest(path)
        for name, record in (man.get("files") or {}).items():
            problem = check_file(path / name, record, deep)
            if problem:
                raise Damaged(path, f"{name}: {problem}")
        if inputs and man.get("inputs") and not self._vouched.issuperset(man["inputs"]):
            # (an entry is vouched for only once everything it was computed from is: so when every
            # direct input already is, this process has checked the whole chain)
            made = (path / MANIFEST).stat().st_mtime_ns
            stats = _read_stats(path / INPUTS)  # every input, transitively: a stat per file vouches for it
            matched = []
            for rel in stats or man["inputs"]:
                if rel in self._vouched:
                    continue
                if _stats_match(self.root, rel, stats.get(rel)):
                    matched.append(rel)
                else:  # changed since (recomputed, or damaged): read its own manifest
                    self._check_input(self.root / rel, made)
            self._vouched.update(matched)  # only when the whole chain held

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """Manifests of every complete entry of ``kind`` (what the app shows as computed)."""
        out = []
        for man in sorted((self.root / kind).glob(f"*/{MANIFEST}")):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                out.append(json.loads(man.read_text()))
        return out

    def clear_stale(self) -> int:
        """Remove temporary leftovers (not being written) and entries of another schema version;
        returns the count."""
        removed = 0
        for kind_dir in [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]:
            for entry in list(kind_dir.iterdir()):
                if leftover_target(entry) is not None:
                    removed += remove_leftover(self.root, entry)
                    continue
                if (entry / MANIFEST).is_file():
                    with contextlib.suppress(OSError, json.JSONDecodeError):
                        if json.loads((entry / MANIFEST).read_text()).get("schema") != SCHEMA_VERSION:
                            remove(entry)
                            removed += 1
        return removed

    # ------------------------------------------------------------------ internals
    def _note(self, path: Path) -> None:
        stack = getattr(self._local, "inputs", None)
        if stack:
            stack[-1].add(path.relative_to(self.root).as_posix())

    def _load_intact(self, path: Path, load: Callable[[Path], T], heal: bool) -> Any:
        """The loaded entry, or _ABSENT when missing or damaged (``heal``: damage moved aside)."""
        if not (path / MANIFEST).is_file():
            if heal and path.is_dir():  # a directory never published this way: not ours to trust
                quarantine(path, self.root, "no manifest.json")
            return _ABSENT
        try:
            self.check(path)
            try:
                value = load(path)
                self._vouched.add(path.relative_to(self.root).as_posix())  # checked, inputs included
                return value
            except (RepCAMError, MemoryError):
                raise
            except Exception as exc:
                raise Damaged(path, f"cannot be loaded ({type(exc).__name__}: {exc})") from exc
        except Damaged as damage:
            if heal:
                self._move_aside(damage, path)
            return _ABSENT

    def _move_aside(self, damage: Damaged, wanted: Path) -> None:
        if damage.path == wanted:
            quarantine(wanted, self.root, damage.problem)
            return
        if not damage.path.exists():  # already in quarantine: recomputing ``wanted`` recomputes it
            return
        with self._lock(damage.path):
            try:  # another process may have replaced it while we waited
                self.check(damage.path, deep=True, inputs=False)
            except Damaged as again:
                quarantine(damage.path, self.root, again.problem,
                           f"recomputing it for {wanted.relative_to(self.root).as_posix()}")

    def _check_input(self, dep: Path, made_ns: int) -> None:
        if not (dep / MANIFEST).is_file():
            if quarantined_after(dep, self.root, made_ns):
                raise Damaged(dep, "moved to quarantine and not yet recomputed")
            return  # deleted on purpose: what was computed from it stays valid
        self.check(dep, deep=False)
        self._vouched.add(dep.relative_to(self.root).as_posix())

    def _input_stats(self, inputs: set[str], machines: list[Any]) -> dict[str, list[list[Any]]]:
        """``[name, size, mtime_ns]`` of each file of ``inputs`` and of the entries they were computed
        from, transitively (so that a later check of them costs a stat per file, no parsing); their
        machine records are appended to ``machines``."""
        out: dict[str, list[list[Any]]] = {}
        todo = sorted(inputs)
        while todo:
            rel = todo.pop()
            if rel in out:
                continue
            try:
                man = json.loads((self.root / rel / MANIFEST).read_text())
            except (OSError, ValueError):
                continue  # gone meanwhile: nothing to vouch for
            out[rel] = [[n, st.st_size, st.st_mtime_ns] for n in [MANIFEST, *(man.get("files") or {})]
                        if (st := _stat(self.root / rel / n)) is not None]
            machines.extend(man.get("computed_on") or [man.get("machine")])
            todo.extend(man.get("inputs") or [])
        return out

    def _create(self, path: Path, kind: str, key: Mapping[str, Any], create: Callable[[Path], None]) -> None:
        with storage_errors(self.root):
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_leftovers(path)  # we hold the lock: any temporary sibling belongs to a dead writer
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent))
        stack = self._local.__dict__.setdefault("inputs", [])
        stack.append(set())
        try:
            with storage_errors(self.root):
                create(tmp)
                man = self._manifest(kind, key)
                machines = [man["machine"]]
                if stack[-1]:
                    stats = self._input_stats(stack[-1], machines)
                    (tmp / INPUTS).write_text(json.dumps(stats, separators=(",", ":")))
                man.update({"computed_on": merge_machines(machines), "files": record_files(tmp, skip=(MANIFEST,)),
                            "inputs": sorted(stack[-1])})
                _write_json(tmp / MANIFEST, seal(man))
                self._publish(tmp, path)
        except BaseException:
            remove(tmp)
            raise
        finally:
            stack.pop()

    @staticmethod
    def _publish(tmp: Path, path: Path) -> None:
        old = None
        if path.exists():  # an intact entry recomputed because an input was damaged: superseded
            old = path.with_name(f".{path.name}{TMP_MARK}superseded")
            remove(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            remove(old)

    def _lock(self, path: Path) -> contextlib.AbstractContextManager:
        return cache_lock(self.root, path)

    def _manifest(self, kind: str, key: Mapping[str, Any]) -> dict[str, Any]:
        import numpy
        import torch

        return {
            "schema": SCHEMA_VERSION,
            "kind": kind,
            "key": json.loads(json.dumps(dict(key), default=str)),
            "repcam": __version__,
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "python": platform.python_version(),
            "machine": machine(),  # recorded, never keyed: a cache stays usable on any machine
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def _read_manifest(self, path: Path) -> dict[str, Any]:
        try:
            man = read_sealed(path / MANIFEST)
        except Damaged as damage:
            raise Damaged(path, f"manifest.json: {damage.problem}") from None
        schema = man.get("schema")
        if schema != SCHEMA_VERSION:
            raise CacheVersionError(
                f"cache entry {path} was written by an older RepCAM (cache schema {schema}, this "
                f"version uses {SCHEMA_VERSION}); run `repcam cache clean --cache {self.root}` or "
                f"choose another --cache directory"
            )
        return man


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _read_stats(path: Path) -> dict[str, list[list[Any]]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _stats_match(root: Path, rel: str, files: list[list[Any]] | None) -> bool:
    """Whether every file recorded for entry ``rel`` still has its recorded size and mtime."""
    if not files:
        return False
    base = f"{root}/{rel}/"
    for name, size, mtime_ns in files:
        try:
            st = os.stat(base + name)
        except OSError:
            return False
        if st.st_size != size or st.st_mtime_ns != mtime_ns:
            return False
    return True


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to ``path`` then rename it into place."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` then rename it into place, with the
    permissions ``open()`` would give it (``0o666`` less the process's umask, applied by the
    kernel; ``mkstemp`` would give ``0o600``, and a results table or figure must be readable by
    whoever reads the directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:12]}")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_bytes_atomic` of ``text`` in UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"))
