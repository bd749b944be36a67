"""The artifact cache: every model, matrix, map and table lives here, keyed by its configuration.

Layout: ``ROOT/<kind>/<key>/`` holds the artifact's files and ``manifest.json`` (schema version,
library versions, the configuration subset that produced it). An entry is written into a
temporary sibling directory and renamed into place only when complete, so a crash never leaves a
half-written artifact; an inter-process lock per entry makes a second process (another CLI run,
another browser tab) wait for the first instead of computing the same thing again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from repcam_core import __version__
from repcam_core.config import SCHEMA_VERSION, config_hash
from repcam_core.errors import CacheVersionError

T = TypeVar("T")
MANIFEST = "manifest.json"


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
    """Config-keyed, atomically written, resumable artifact store."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def entry(self, kind: str, key: Mapping[str, Any]) -> Path:
        """Directory of the artifact ``kind`` produced by configuration ``key``."""
        return self.root / kind / config_hash(key)

    def has(self, kind: str, key: Mapping[str, Any]) -> bool:
        path = self.entry(kind, key)
        if not (path / MANIFEST).is_file():
            return False
        self._check_version(path)
        return True

    def manifest(self, kind: str, key: Mapping[str, Any]) -> dict[str, Any]:
        return json.loads((self.entry(kind, key) / MANIFEST).read_text())

    def get_or_create(
        self,
        kind: str,
        key: Mapping[str, Any],
        create: Callable[[Path], None],
        load: Callable[[Path], T],
    ) -> T:
        """Load the artifact if present; otherwise ``create(tmpdir)`` writes its files, the entry
        is published atomically, and it is loaded. Concurrent callers wait on a lock."""
        path = self.entry(kind, key)
        if self.has(kind, key):
            return load(path)
        with self._lock(path):
            if self.has(kind, key):  # another process finished it while we waited
                return load(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
            try:
                create(tmp)
                _write_json(tmp / MANIFEST, self._manifest(kind, key))
                if path.exists():  # a stale, manifest-less directory from an old crash
                    shutil.rmtree(path)
                os.replace(tmp, path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return load(path)

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """Manifests of every complete entry of ``kind`` (what the app shows as computed)."""
        out = []
        for man in sorted((self.root / kind).glob(f"*/{MANIFEST}")):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                out.append(json.loads(man.read_text()))
        return out

    def clear_stale(self) -> int:
        """Remove temporary leftovers and entries of another schema version; returns the count."""
        removed = 0
        for kind_dir in [p for p in self.root.iterdir() if p.is_dir()]:
            for entry in list(kind_dir.iterdir()):
                stale = ".tmp-" in entry.name
                if not stale and (entry / MANIFEST).is_file():
                    with contextlib.suppress(OSError, json.JSONDecodeError):
                        stale = json.loads((entry / MANIFEST).read_text()).get("schema") != SCHEMA_VERSION
                if stale:
                    shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
                    removed += 1
        return removed

    @contextlib.contextmanager
    def _lock(self, path: Path) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{path.parent.name}-{path.name}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def _check_version(self, path: Path) -> None:
        try:
            schema = json.loads((path / MANIFEST).read_text()).get("schema")
        except (OSError, json.JSONDecodeError) as exc:
            raise CacheVersionError(f"unreadable cache entry {path}: {exc}; delete it and run again") from exc
        if schema != SCHEMA_VERSION:
            raise CacheVersionError(
                f"cache entry {path} was written by an older RepCAM (cache schema {schema}, this "
                f"version uses {SCHEMA_VERSION}); run `repcam cache clean --cache {self.root}` or "
                f"choose another --cache directory"
            )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to ``path`` then rename it into place."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
