"""Where a decoded split lives in the cache, and whether that file is intact, without torch.

A run that finds every result cached never decodes a split (and never imports torch); it still
checks the decoded files it would rely on (each ``.npz`` member's zip CRC-32, a read of the file),
so a damaged one is found and decoded again on that run, not left for a later one.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any


def cache_path(dataset: Any, split: str, size: int, cache_dir: Path) -> Path:
    """``cache_dir / "{fingerprint}-{split}-{size}.npz"`` (a ``/`` in the split name becomes ``_``)."""
    return Path(cache_dir) / f"{dataset.fingerprint(split)}-{split.replace('/', '_')}-{size}.npz"


def intact(path: Path) -> bool:
    """True when ``path`` is absent (nothing to check) or a zip whose every member matches its CRC-32."""
    if not path.exists():
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, EOFError, zipfile.BadZipFile, ValueError):
        return False
