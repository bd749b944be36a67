"""RepCAM: class activation maps by representative class selection and multi-layer fusion.

Importing the package is cheap: submodules (and torch) load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "RunConfig": "repcam_core.running.config",
    "TrainConfig": "repcam_core.running.config",
    "paper_config": "repcam_core.running.config",
    "Pipeline": "repcam_core.running.pipeline",
    "ArtifactCache": "repcam_core.storage.cache",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'repcam_core' has no attribute {name!r}")
