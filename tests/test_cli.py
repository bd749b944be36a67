"""The ``repcam`` command line: results as JSON, resumable runs, one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from repcam_testing import TINY_WORLD
from repcam_core.cli import main
from repcam_core.storage.machine import machine

TINY = ["--image-size", "32", "--epochs", "3", "--binary-epochs", "2", "--batch-size", "16", "--clusters", "3",
        "--min-cluster-size", "2", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "voc"
    args = ["demo-data", "--out", str(out), "--families", "3", "--classes-per-family", "2",
            "--train-per-class", str(TINY_WORLD["train_per_class"]), "--val-per-class", "3",
            "--calib-per-class", "3"]
    assert main(args) == 0
    return out


def test_demo_data_is_voc_layout(world):
    assert (world / "JPEGImages").is_dir() and (world / "SegmentationClass").is_dir()
    assert (world / "ImageSets/Segmentation/val.txt").read_text().strip()


def test_run_json_has_miou_and_per_class(world, tmp_path, capsys):
    args = ["run", "--dataset", str(world), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
            "--modes", "Baseline,S-1+F,S-1+A+F", "--json", *TINY]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(data["miou"]) == ["Baseline", "S-1+F", "S-1+A+F"]
    assert set(data["protocols"]) == {"fixed", "calibrated", "auc"} and data["calibration"]["split"] == "calib"
    assert list(data["vs_baseline"]["calibrated"]) == ["S-1+F", "S-1+A+F"]
    assert all(0 <= v <= 100 for v in data["miou"].values())
    assert data["computed_on"] == [machine()]  # this process's machine, with its thread count
    assert set(data["per_class"]["S-1+A+F"]) == set((world / "classes.txt").read_text().split())
    csv = (tmp_path / "o" / "results.csv").read_text().splitlines()
    assert csv[0].startswith("mode,") and len(csv) == 4
    # a second identical run recomputes nothing: it must not train
    import repcam_core.running.pipeline as mod

    orig = mod.fit
    mod.fit = lambda *a, **k: pytest.fail("second run trained a model")
    try:
        assert main(args) == 0
    finally:
        mod.fit = orig
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["miou"] == data["miou"]


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repcam_core.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["run", "--dataset", "/nonexistent/voc"], "/nonexistent/voc"),
    (["run", "--backbone", "resnet19"], "unknown backbone 'resnet19'"),
    (["run", "--modes", "S1+F"], "unknown mode"),
    (["run", "--threshold", "3"], "threshold must be in"),
    (["run", "--modes", "Contrast-Top1+F"], "Contrast-<sel>"),
    (["run", "--bootstrap", "5"], "bootstrap resamples must be >= 100"),
])
def test_bad_input_gives_one_line_and_exit_2(args, message, tmp_path):
    res = _run_cli(*args, "--cache", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [l for l in res.stderr.splitlines() if l.startswith("repcam: error:")]
    assert len(lines) == 1 and message in lines[0]


def test_not_a_voc_directory(tmp_path):
    (tmp_path / "d").mkdir()
    res = _run_cli("run", "--dataset", str(tmp_path / "d"), "--cache", str(tmp_path / "c"), "--quiet")
    assert res.returncode == 2 and "JPEGImages" in res.stderr and "Traceback" not in res.stderr


def test_k_out_of_range_for_the_class_count(world, tmp_path):
    res = _run_cli("run", "--dataset", str(world), "--modes", "S-9+F", "--cache", str(tmp_path), *TINY)
    assert res.returncode == 2 and "k=9 is out of range for 6 classes" in res.stderr


def test_unreadable_image_is_skipped_and_counted(world, tmp_path, capsys):
    broken = tmp_path / "voc"
    shutil.copytree(world, broken)
    victim = (broken / "ImageSets/Segmentation/val.txt").read_text().split()[0]
    (broken / "JPEGImages" / f"{victim}.jpg").write_bytes(b"not a jpeg")
    args = ["run", "--dataset", str(broken), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
            "--modes", "Baseline", *TINY]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "skipped 1 unreadable file(s)" in out.out
    assert f"{victim}.jpg" in out.err
    data = json.loads((tmp_path / "o" / "results.json").read_text())
    assert any(victim in f for f in data["skipped_files"])


def test_run_over_seeds_reports_mean_and_sd(world, tmp_path, capsys):
    args = ["run", "--dataset", str(world), "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
            "--modes", "Baseline,S-1+A+F", "--seeds", "0,1", "--json", *TINY]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["seeds"] == [0, 1]
    assert data["computed_on"] and all({"cpu", "isa", "torch", "cuda", "threads"} == set(m) for m in data["computed_on"])
    # The mean and sd are of the unrounded per-seed values, rounded once; the per-seed figures are
    # each rounded to 0.01, so the mean of the shown figures may be off by 0.005 from the unrounded
    # mean, which rounding moves by up to 0.005 more: at most 0.01 apart (1e-9: float slack). The sd
    # of two values is |a - b| / sqrt(2): rounding each moves it by at most 0.01 / sqrt(2) + 0.005.
    for mode in ("Baseline", "S-1+A+F"):
        runs = [data["per_seed"][s][mode] for s in ("0", "1")]
        assert abs(data["miou"][mode] - sum(runs) / 2) <= 0.01 + 1e-9
    for proto in ("fixed", "calibrated", "auc"):  # every protocol aggregated across seeds
        e = data["protocols"][proto]["S-1+A+F"]
        assert len(e["per_seed"]) == 2 and abs(e["mean"] - np.mean(e["per_seed"])) <= 0.01 + 1e-9
        assert abs(e["sd"] - np.std(e["per_seed"], ddof=1)) <= 0.01 / np.sqrt(2) + 0.005 + 1e-9
        assert "S-1+A+F" in data["vs_baseline"][proto] and "Baseline" not in data["vs_baseline"][proto]
    for mode in ("Baseline", "S-1+A+F"):  # the same unrounded values, the same computation: equal
        assert data["protocols"]["fixed"][mode]["mean"] == data["miou"][mode]
        assert data["protocols"]["fixed"][mode]["sd"] == data["miou_std"][mode]
        assert data["protocols"]["fixed"][mode]["per_seed"] == [data["per_seed"][s][mode] for s in ("0", "1")]
    assert main(["run", "--seeds", "a,b", "--cache", str(tmp_path / "c")]) == 2
    text_args = [a for a in args if a != "--json"]
    assert main(text_args) == 0
    out = capsys.readouterr().out
    assert "mean ± sd over seeds 0, 1" in out and "vs Baseline" in out
