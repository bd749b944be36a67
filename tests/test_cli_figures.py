"""``repcam figure`` and ``repcam cluster --compare`` / ``--clustering`` on a tiny VOC-layout world:
real files, JSON with the scores, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from repcam_testing import TINY_WORLD
from repcam_core.cli import main

TINY = ["--image-size", "32", "--epochs", "3", "--binary-epochs", "2", "--batch-size", "16", "--clusters", "3",
        "--min-cluster-size", "2", "--device", "cpu", "--quiet"]
ALGORITHMS = ["improved-kmeans", "spectral", "agglomerative"]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> list[str]:
    """A tiny world in VOC layout (with its world.json) and one cache for the module's commands."""
    root = tmp_path_factory.mktemp("cli-figures")
    world = root / "voc"
    assert main(["demo-data", "--out", str(world), "--families", "3", "--classes-per-family", "2",
                 "--train-per-class", str(TINY_WORLD["train_per_class"]), "--val-per-class", "3"]) == 0
    return ["--dataset", str(world), "--cache", str(root / "cache"), *TINY]


@pytest.fixture()
def out(tmp_path) -> list[str]:
    """``--out`` of the cluster command (a directory; the figure command's --out is a file)."""
    return ["--out", str(tmp_path / "out")]


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cluster_compare_json_carries_the_scores(env, out, capsys):
    assert main(["cluster", "--compare", "--seeds", "0,1", "--json", *env, *out]) == 0
    data = last_json(capsys)
    families = json.loads((Path(env[1]) / "world.json").read_text())["families"]
    assert data["truth"] == families and data["seeds"] == [0, 1] and data["n_clusters"] == 3
    assert list(data["summary"]) == ALGORITHMS
    for algo in ALGORITHMS:
        stats = data["summary"][algo]
        assert set(stats) == {"within", "silhouette", "ari", "nmi", "smallest"}
        assert -1 <= stats["ari"]["mean"] <= 1 and 0 <= stats["nmi"]["mean"] <= 1 and stats["ari"]["sd"] >= 0
        assert [r["seed"] for r in data["runs"][algo]] == [0, 1]
        assert sorted(c for g in data["runs"][algo][0]["clusters"] for c in g) == sorted(data["classes"])
    assert data["summary"]["agglomerative"]["ari"]["sd"] == 0  # deterministic (the JSON rounds to 4 decimals)
    assert data["computed_on"] and all(m["threads"] >= 1 for m in data["computed_on"])  # B's model's machine
    written = json.loads((Path(out[1]) / "cluster_compare.json").read_text())
    assert written["summary"] == data["summary"]


def test_cluster_prints_the_chosen_algorithms_clusters(env, out, capsys):
    assert main(["cluster", "--compare", "--seeds", "0", "--json", *env, *out]) == 0
    compared = last_json(capsys)["runs"]
    for algo in ("agglomerative", "spectral"):
        assert main(["cluster", "--clustering", algo, "--json", *env, *out]) == 0
        data = last_json(capsys)
        assert data["algorithm"] == algo
        clusters = data["clusters"]
        assert {frozenset(g) for g in clusters} == {frozenset(g) for g in compared[algo][0]["clusters"]}


def test_cluster_compare_text_table(env, out, capsys):
    assert main(["cluster", "--compare", "--seeds", "0,1", *env, *out]) == 0
    out = capsys.readouterr().out
    assert "True families: vehicles: bus, car; animals: cat, dog; furniture: chair, sofa" in out
    header = next(line for line in out.splitlines() if line.startswith("algorithm"))
    assert re.split(r"\s{2,}", header) == ["algorithm", "within-cluster similarity", "silhouette", "ARI", "NMI",
                                           "smallest cluster"]
    assert all(any(line.startswith(a) and "±" in line for line in out.splitlines()) for a in ALGORITHMS)


def test_figure_png_has_the_asked_width_and_panels(env, tmp_path, capsys):
    out = tmp_path / "fig7.png"
    assert main(["figure", "fig7", "--class", "car", "--images", "2", "--out", str(out), "--dpi", "100",
                 "--json", *env]) == 0
    data = last_json(capsys)
    assert data["class"] == "car" and len(data["images"]) == 2 and list(data["comparisons"]) == ["S-1+A+F"]
    assert data["panels"] == 2 * (1 + 4 + 1 + 1 + 2)  # image, Layer1-4, Adding, Fusion, Grad-CAM, GT
    png = Image.open(out)
    assert png.size[0] == 716 and abs(png.size[1] - data["size_in"][1] * 100) <= 1


def test_figure_pdf_with_two_modes_at_single_width(env, tmp_path, capsys):
    out = tmp_path / "fig5.pdf"
    assert main(["figure", "fig5", "--class", "car", "--modes", "S-1+A+F,Random+A+F", "--width", "single",
                 "--out", str(out), "--json", *env]) == 0
    data = last_json(capsys)
    k = len(data["comparisons"]["S-1+A+F"])
    assert data["size_in"][0] == 3.5 and list(data["comparisons"]) == ["S-1+A+F", "Random+A+F"]
    assert data["panels"] == 3 * (1 + k + 2 + 2)  # 3 images by default: image, k classes, 2 fusions, Grad-CAM, GT
    pdf = out.read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1 and b"/FontFile2" in pdf


@pytest.mark.parametrize("args, message", [
    (["figure", "fig9"], "unknown figure 'fig9'"),
    (["figure", "fig5", "--out", "x.jpg"], "unsupported figure format '.jpg'"),
    (["figure", "fig5", "--class", "zebra"], "unknown class 'zebra'; the dataset has: bus, car"),
    (["figure", "fig5", "--images", "val_99999"], "unknown image id(s) 'val_99999'"),
    (["figure", "fig5", "--images", "40"], "give 1..3 or image ids"),
    (["figure", "fig5", "--modes", "Baseline"], "first mode (Baseline) has none"),
    (["figure", "fig5", "--modes", "S1"], "unknown mode 'S1'"),
    (["figure", "fig5", "--width", "wide"], "unknown figure width 'wide'"),
    (["cluster", "--clustering", "kmeans", "--out", "o"], "unknown clustering algorithm 'kmeans'"),
    (["cluster", "--compare", "--seeds", "a", "--out", "o"], "comma-separated integers"),
])
def test_bad_input_is_one_line_and_exit_2(env, args, message, tmp_path, capsys):
    assert main([*args, *env] + ([] if "--out" in args else ["--out", str(tmp_path / "x.pdf")])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("repcam: error:") and message in err[0]


def test_figure_error_in_a_fresh_process_has_no_traceback(env):
    res = subprocess.run([sys.executable, "-m", "repcam_core.cli", "figure", "fig5", "--out", "fig.gif", *env],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == ("repcam: error: unsupported figure format '.gif' for fig.gif; "
                                  "use .pdf, .png, .svg")
