"""The shipped prebuilt directory (``repcam_core/running/prebuilt/embedded-default``) against the default
configuration: it matches (else the test names the command that rebuilds it), and retraining the
model from scratch here gives the same quality within tolerances that float rounding allows.

Never bytes across machines: the same code and seed train a different model on another CPU or
another torch thread count (float rounding in the convolutions), so the retrained model is
compared by what it gives (accuracy, the Baseline's mIoU under each protocol), and both models
are evaluated here, by this code.

How close "the same" can be depends on the machine. On the CPU type, torch build and thread count
the model was built with, training repeats bit for bit, and the issue's tolerances apply (1 point
of accuracy, 0.5 point of mIoU). On another CPU type, float rounding makes the training another
draw, as a change of seed does: measured on an Intel Xeon (family 6, model 167) against the model
built on an AMD EPYC, seed 0 retrained gave 96.5 % accuracy where the shipped model gives 92.0 %
(Baseline 28.70 / 36.08 / 27.06 against 28.46 / 35.35 / 26.58), and seeds 0-4 there spread over
74.0-96.5 % (``docs/results/prebuilt-spread.json``, ``python -m bench.prebuilt_spread``). There
the retrained model must fall within that spread of the shipped one: a broken training is
caught, a small drift is not (the key check above catches every change of configuration)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repcam_core.running import prebuilt
from repcam_core.running.config import RunConfig
from repcam_core.storage.machine import machine
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.prebuilt import BUILD_COMMAND, Prebuilt

ACCURACY_TOLERANCE = 1.0
"""Percentage points of single-label validation accuracy (the issue's 1 %; one image of the 192
is 0.52 points)."""
MIOU_TOLERANCE = 0.5
"""Points of the Baseline's mIoU under each protocol (the issue's 0.5 pt)."""
SPREAD = Path(__file__).resolve().parents[1] / "docs" / "results" / "prebuilt-spread.json"
"""Seeds 0-4 of the default configuration trained on one machine: how far chance moves the quality."""
QUICK = RunConfig(bootstrap=100)
"""The default configuration with the fewest bootstrap resamples: only the point figures are
compared, which do not depend on them (nor does any key of the shipped artifacts)."""


@pytest.fixture(scope="module")
def world_cache(tmp_path_factory) -> Path:
    """A cache holding only the default world, generated here."""
    cache = tmp_path_factory.mktemp("default-world")
    Pipeline(RunConfig(), cache=cache, prebuilt=False).class_names  # noqa: B018 - generates the world
    return cache


def tolerances(manifest: dict, here: dict, spread: dict) -> tuple[float, dict[str, float], str]:
    """(accuracy tolerance, mIoU tolerance per protocol, why) for comparing a model retrained on
    the machine ``here`` (:func:`repcam_core.storage.machine.machine`) with the one built as ``manifest``
    says: the issue's where the build machine's CPU type, instruction set, torch build and thread
    count are this one's (training repeats bit for bit); else the width of the range over seeds in
    ``spread`` (``docs/results/prebuilt-spread.json``), never less than the issue's."""
    built = manifest.get("machine") or {}
    same = all(built.get(k) is not None and built.get(k) == here.get(k) for k in ("cpu", "isa", "torch", "threads"))
    miou = {proto: MIOU_TOLERANCE for proto in ("fixed", "calibrated", "auc")}
    if same:
        return ACCURACY_TOLERANCE, miou, f"the build machine's type ({built['cpu']}, {built['threads']} threads)"
    width = {k: hi - lo for k, (lo, hi) in spread["range_over_seeds"].items()}
    return (max(ACCURACY_TOLERANCE, width["val_accuracy"]),
            {proto: max(tol, width[f"baseline_miou.{proto}"]) for proto, tol in miou.items()},
            f"another machine than the build's ({manifest.get('cpu')}): within the spread over seeds")


def test_the_issue_tolerances_apply_only_on_the_build_machine_type():
    here = {"cpu": "X (cpu family 6, model 167, stepping 1)", "isa": "AVX512", "torch": "2.14.1", "threads": 2}
    spread = {"range_over_seeds": {"val_accuracy": [74.0, 96.5], "baseline_miou.fixed": [28.9, 29.0],
                                   "baseline_miou.calibrated": [31.0, 38.0], "baseline_miou.auc": [23.0, 28.0]}}
    acc, miou, _ = tolerances({"machine": dict(here)}, here, spread)
    assert (acc, miou) == (ACCURACY_TOLERANCE, {"fixed": 0.5, "calibrated": 0.5, "auc": 0.5})
    for other in ({**here, "threads": 1}, {**here, "cpu": "AMD EPYC"}, {**here, "isa": "AVX2"}):
        acc, miou, why = tolerances({"machine": other, "cpu": other["cpu"]}, here, spread)
        assert acc == 22.5 and miou["calibrated"] == 7.0 and "spread" in why
        assert miou["fixed"] == 0.5  # never below the issue's
    assert tolerances({"cpu": "AMD EPYC"}, here, spread)[0] == 22.5  # an older manifest: no machine record


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

    from repcam_core.running.prebuilt.build import quality

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
    acc_tol, miou_tol, why = tolerances(shipped.manifest, {**machine(), "threads": int(shipped.manifest["threads"])},
                                        json.loads(SPREAD.read_text()))
    print(f"shipped {ours}; retrained here {retrained}; tolerances {acc_tol}, {miou_tol}: {why}")
    for name, other, (a_tol, m_tol) in (("retrained from scratch here", retrained, (acc_tol, miou_tol)),
                                        ("recorded in the manifest", recorded,  # evaluation only: no training
                                         (ACCURACY_TOLERANCE, dict.fromkeys(miou_tol, MIOU_TOLERANCE)))):
        assert abs(other["val_accuracy"] - ours["val_accuracy"]) <= a_tol, \
            (f"accuracy: shipped {ours['val_accuracy']} %, {name} {other['val_accuracy']} % (tolerance {a_tol}: "
             f"{why}); run `{BUILD_COMMAND}`")
        for proto, value in ours["baseline_miou"].items():
            assert abs(other["baseline_miou"][proto] - value) <= m_tol[proto], \
                (f"Baseline mIoU ({proto}): shipped {value}, {name} {other['baseline_miou'][proto]} "
                 f"(tolerance {m_tol[proto]}: {why}); run `{BUILD_COMMAND}`")
