"""``repcam prebuilt build``: train the default configuration's artifacts from scratch and write
them, with their manifest, as the prebuilt directory (:mod:`repcam_core.running.prebuilt`).

Always the default :class:`~repcam_core.running.config.RunConfig` (what ``make app`` and a bare ``repcam``
command use), always trained here (never installed from an earlier prebuilt directory), in a
fresh temporary cache unless ``cache`` names one. The manifest records the provenance (command,
commit, date, library versions, torch threads, CPU) and the quality measured right after
training (:func:`quality`: the tests retrain and compare against the same measures).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from repcam_core.storage.machine import cpu_model, machine
from repcam_core.running.prebuilt import (BUILD_COMMAND, DEFAULT_DIR, FORMAT, KINDS, MANIFEST, chain_keys, copy_entry_files,
                                  is_shipped, normalised, portable_key)

QUALITY_PROTOCOLS = ("fixed", "calibrated", "auc")


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def git_commit(repo: Path) -> str:
    """``HEAD``'s hash (``+dirty`` when files other than the prebuilt directory changed); "unknown"
    outside a git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", ".",
                                 f":(exclude){DEFAULT_DIR.relative_to(repo).as_posix()}"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, ValueError, subprocess.SubprocessError):
        return "unknown"
    return (head + ("+dirty" if status else "")) if head else "unknown"


def accuracy(p: Any, split: Any) -> tuple[float, int]:
    """Top-1 accuracy (percent) of ``p``'s multi-class model on ``split``'s single-label images, and
    how many there are."""
    import torch

    from repcam_core.models.train import predict_proba

    idx = torch.cat([split.single_label_indices(c) for c in range(p.num_classes)])
    truth = torch.cat([torch.full((len(split.single_label_indices(c)),), c) for c in range(p.num_classes)])
    probs = predict_proba(p.multiclass_model(), split.images[idx], p.device)
    return round(100.0 * float((probs.argmax(1) == truth).float().mean()), 2), len(idx)


def quality(p: Any) -> dict[str, Any]:
    """What the model gives: accuracy (percent) on the evaluation split's single-label images, and the
    Baseline's mIoU (percent) under each protocol (point figures; the intervals are not compared)."""
    from repcam_core.running.experiment import Experiment

    protocols = Experiment(p).run(["Baseline"]).to_json()["protocols"]
    acc, n = accuracy(p, p.eval_split)
    return {"val_accuracy": acc, "val_images": n,
            "baseline_miou": {k: protocols[k]["Baseline"]["miou"] for k in QUALITY_PROTOCOLS if k in protocols}}


def build(out: Path = DEFAULT_DIR, cache: Path | None = None, progress: Any = None,
          command: str = BUILD_COMMAND, config: Any = None) -> dict[str, Any]:
    """Train ``config``'s (default: the default configuration's) multi-class model, B and
    clustering (in ``cache``, default a fresh temporary one) and write them with their manifest to
    ``out`` (replaced atomically). Returns the manifest."""
    from repcam_core.running.config import RunConfig
    from repcam_core.errors import ConfigError

    if cache is None:
        with tempfile.TemporaryDirectory(prefix="repcam-prebuilt-") as tmp:
            return build(out, Path(tmp), progress, command, config)
    import torch

    from repcam_core import __version__
    from repcam_core.running.pipeline import Pipeline, train_log

    config = config or RunConfig()
    p = Pipeline(config, cache=cache, progress=progress, prebuilt=False)
    started, load = time.strftime("%Y-%m-%dT%H:%M:%S%z"), _load_average()
    p.multiclass_model(), p.similarity(), p.clustering()  # noqa: B018 - trained here
    keys = chain_keys(p)
    shipped = [kind for kind in KINDS if is_shipped(p.cache.entry(kind, keys[kind]))]
    if shipped:
        raise ConfigError(f"the cache {p.cache.root} holds shipped artifacts ({', '.join(shipped)}), not ones "
                          "trained here; build from a fresh cache (leave out --cache)")
    manifest = {
        "format": FORMAT, "command": command, "commit": git_commit(Path(__file__).resolve().parents[3]),
        "date": started, "repcam": __version__, "torch": torch.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "cpu": cpu_model(), "machine": machine(), "cores": os.cpu_count(),
        "platform": platform.platform(),
        "device": str(p.device), "config": config.to_dict(),
        "train_seconds": train_log(p.cache.entry("multiclass", keys["multiclass"]))["seconds"],
        "load_avg_1min": load,  # the machine's load when training began (train_seconds depends on it)
        "quality": quality(p), "entries": {},
    }
    out = Path(out)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    stage.chmod(0o755)
    try:
        for kind in KINDS:
            files = copy_entry_files(p.cache.entry(kind, keys[kind]), stage / kind)
            manifest["entries"][kind] = {"key": normalised(portable_key(p, keys[kind])), "files": files}
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        old = out.with_name(f".{out.name}.tmp-old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            os.replace(out, old)
        os.replace(stage, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return manifest
