"""Where a decoded split lives in the cache, and whether that file is intact, without torch.

A run that finds every result cached never decodes a split (and never imports torch); it still
checks the decoded files it would rely on (each ``.npz`` member's zip CRC-32, a read of the file),
so a damaged one is found and decoded again on that run, not left for a later one.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any


def cache_path(dataset: Any, split: str, size: int, cache_dir: Path, fingerprint: str | None = None) -> Path:
    """``cache_dir / "{fingerprint}-{split}-{size}.npz"`` (a ``/`` in the split name becomes ``_``);
    ``fingerprint``: the split's, when the caller already has it."""
    fingerprint = fingerprint or dataset.fingerprint(split)
    return Path(cache_dir) / f"{fingerprint}-{split.replace('/', '_')}-{size}.npz"


def problem(path: Path) -> str | None:
    """What is wrong with the decoded split at ``path`` (a zip whose members each carry a CRC-32,
    all read and checked), or None when it is intact or absent (nothing to check)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
        return None if bad is None else f"{bad} fails its CRC-32"
    except FileNotFoundError:
        return None
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def intact(path: Path) -> bool:
    """True when ``path`` is absent (nothing to check) or a zip whose every member matches its CRC-32."""
    return problem(path) is None
