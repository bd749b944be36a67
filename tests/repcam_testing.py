"""Shared test settings: a tiny generated world and a RunConfig that trains in seconds.

A plain module (not a conftest) so every test file can import it by a unique name."""

from __future__ import annotations

TINY_WORLD = {"n_families": 3, "classes_per_family": 2, "train_per_class": 8, "val_per_class": 3, "calib_per_class": 3,
              "width": 40, "height": 32}


def tiny_config(**overrides):
    """A RunConfig that trains in seconds: 6 classes, 32 px, 2 epochs."""
    from repcam_core.running.config import RunConfig, TrainConfig

    base = RunConfig(world=TINY_WORLD, image_size=32, n_clusters=3, min_cluster_size=2, n_random=2,
                     device="cpu", train=TrainConfig(epochs=3, binary_max_epochs=2, batch_size=16))
    return base.with_(**overrides) if overrides else base


# ---------------------------------------------------------------- a real-photo run
MSRC_CLASSES = ("cow", "sheep", "car", "bicycle")
PHOTOS_RUN_ARGS = ("--preset", "photos", "--classes", ",".join(MSRC_CLASSES), "--image-size", "96", "--epochs", "1",
                   "--binary-epochs", "1", "--clusters", "2", "--min-cluster-size", "2", "--device", "cpu",
                   "--bootstrap", "200")
"""``repcam run`` options of the suite's real-photo run (``tests/conftest.py``'s ``msrc_photos_run``):
the photos preset (EfficientNet-Lite0 with its real ImageNet weights) on four MSRC-v2 classes (two
look-alike pairs, cow-sheep and car-bicycle, though after one epoch at 96 px B need not rank them
first, and no test asks it to; 2 clusters so that S-k selects fewer classes than All), 96 px, one
epoch."""


# ---------------------------------------------------------------- what CI must have
def in_ci() -> bool:
    """Whether this is a CI run (``CI`` set to anything but empty, 0, false or no)."""
    import os

    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(message: str) -> None:
    """Something CI always has is missing (the real data, Chromium): the test is skipped, saying
    why; under ``CI=true`` every skip is a failure (:func:`skip_fails_in_ci`)."""
    import pytest

    pytest.skip(message)


def skip_fails_in_ci(report) -> None:
    """Under ``CI=true`` a skipped test report becomes a failure naming the skip's reason: on CI a
    skip (a missing install, data or platform feature, an ``importorskip``) hides breakage."""
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


# ---------------------------------------------------------------- what survives what
# Counts of the faults and malformed inputs that survived, printed at the end of the session
# (tests/conftest.py) and copied into docs/reliability.md's "What survives what" table. A count is taken
# only after its check passed: ``survived(...)`` after the assertions, or the ``survives`` marker,
# which counts a test once its call passed.
from collections import Counter  # noqa: E402

SURVIVAL: Counter = Counter()


def survived(what: str, n: int = 1) -> None:
    """Count ``n`` more of ``what`` (e.g. "kills survived"); call it after the checks."""
    SURVIVAL[what] += n


def no_traceback(*outputs: str, process: bool = True) -> None:
    """Assert that no output holds a Python traceback, then count them: ``process`` outputs are a
    child process's stdout and stderr; otherwise in-process captures (``main()`` under capsys)."""
    seen = [o for o in outputs if "Traceback (most recent call last)" in o]
    assert not seen, "a traceback:\n" + "\n".join(seen)
    survived("process outputs without a traceback" if process else
             "in-process captures (repcam main) without a traceback", len(outputs))
