"""The shipped prebuilt directory (``repcam_core/prebuilt/embedded-default``) against the default
configuration: it matches (else the test names the command that rebuilds it), and retraining the
model from scratch here gives the same quality within tolerances that float rounding allows.

Never bytes across machines: the same code and seed train a different model on another CPU or
another torch thread count (float rounding in the convolutions), so the retrained model is
compared by what it gives (accuracy, the Baseline's mIoU under each protocol), and both models
are evaluated here, by this code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repcam_core import prebuilt
from repcam_core.config import RunConfig
from repcam_core.pipeline import Pipeline
from repcam_core.prebuilt import BUILD_COMMAND, Prebuilt

ACCURACY_TOLERANCE = 1.0
"""Percentage points of single-label validation accuracy (the issue's 1 %; one image of the 192
is 0.52 points)."""
MIOU_TOLERANCE = 0.5
"""Points of the Baseline's mIoU under each protocol (the issue's 0.5 pt)."""
QUICK = RunConfig(bootstrap=100)
"""The default configuration with the fewest bootstrap resamples: only the point figures are
compared, which do not depend on them (nor does any key of the shipped artifacts)."""


@pytest.fixture(scope="module")
def world_cache(tmp_path_factory) -> Path:
    """A cache holding only the default world, generated here."""
    cache = tmp_path_factory.mktemp("default-world")
    Pipeline(RunConfig(), cache=cache, prebuilt=False).class_names  # noqa: B018 - generates the world
    return cache


def _copy_world(world_cache: Path, dest: Path) -> Path:
    shutil.copytree(world_cache, dest)  # copy2 keeps the mtimes: the same fingerprints, no second generation
    return dest


def test_the_shipped_artifacts_match_the_default_configuration(world_cache):
    shipped = Prebuilt()
    assert shipped.manifest, f"no prebuilt directory at {shipped.root}; run `{BUILD_COMMAND}`"
    diff = prebuilt.differences(Pipeline(RunConfig(), cache=world_cache, prebuilt=False), shipped)
    assert diff == {}, (f"the shipped prebuilt artifacts do not match the default configuration "
                        f"({'; '.join(f'{k}: {l}' for k, lines in diff.items() for l in lines)}): run "
                        f"`{BUILD_COMMAND}` and commit {shipped.root}")
    man = shipped.manifest
    assert man["command"].startswith(BUILD_COMMAND) and man["config"] == RunConfig().to_dict()
    assert all(man.get(k) for k in ("commit", "date", "torch", "threads", "cpu", "quality"))


@pytest.mark.slow
def test_retraining_the_shipped_model_from_scratch_gives_the_same_quality(world_cache, tmp_path):
    """The stale check beyond keys: training the default configuration from scratch here (as
    ``repcam prebuilt build`` did, with the manifest's torch thread count) and evaluating both
    models here. Also checks that the manifest's own figures are what the shipped model gives."""
    import torch

    from repcam_core.prebuilt.build import quality

    shipped = Prebuilt()
    threads = torch.get_num_threads()
    torch.set_num_threads(int(shipped.manifest["threads"]))
    try:
        scratch = Pipeline(QUICK, cache=_copy_world(world_cache, tmp_path / "scratch"), prebuilt=False)
        retrained = quality(scratch)
    finally:
        torch.set_num_threads(threads)
    installed = Pipeline(QUICK, cache=_copy_world(world_cache, tmp_path / "shipped"), prebuilt=shipped)
    assert prebuilt.install(installed) == ["multiclass", "similarity", "clustering"]
    ours = quality(installed)
    recorded = shipped.manifest["quality"]
    for name, other in (("retrained from scratch here", retrained), ("recorded in the manifest", recorded)):
        assert abs(other["val_accuracy"] - ours["val_accuracy"]) <= ACCURACY_TOLERANCE, \
            f"accuracy: shipped {ours['val_accuracy']} %, {name} {other['val_accuracy']} %; run `{BUILD_COMMAND}`"
        for proto, value in ours["baseline_miou"].items():
            assert abs(other["baseline_miou"][proto] - value) <= MIOU_TOLERANCE, \
                (f"Baseline mIoU ({proto}): shipped {value}, {name} {other['baseline_miou'][proto]}; "
                 f"run `{BUILD_COMMAND}`")
