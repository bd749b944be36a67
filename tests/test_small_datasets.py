"""Modes that need more classes than a dataset has, end to end: a 3-breed Pet directory through
the CLI (the default group runs what it can and says why the rest is left out; a mode named
alone fails with one line; the pair maps), and the adapted settings a run really uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from repcam_core.cli import main
from repcam_core.running.experiment import Experiment
from repcam_core.method.modes import parse_mode
from repcam_core.method.selection import similarity_order
from repcam_core.running.pipeline import Pipeline
from repcam_testing import tiny_config

sys.path.insert(0, str(Path(__file__).parent / "data"))
from pets_layout import make_pets  # noqa: E402  (the Pet layout generator of the reader's tests)

FAST = ["--image-size", "16", "--epochs", "1", "--binary-epochs", "1", "--batch-size", "16", "--device", "cpu",
        "--bootstrap", "100", "--quiet"]


@pytest.fixture(scope="module")
def pets3(tmp_path_factory) -> Path:
    return make_pets(tmp_path_factory.mktemp("pets3") / "pets", breeds=("Abyssinian", "american_bulldog", "Bengal"),
                     trainval=6, test=2)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_three_breeds_run_the_default_group_and_say_what_they_leave_out(pets3, tmp_path, capsys):
    common = ["--dataset", f"pets:{pets3}", "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o"), *FAST]
    code, out, err = _cli(capsys, "run", *common, "--json")
    assert code == 0, err
    data = json.loads(out.strip().splitlines()[-1])
    for mode in ("Baseline", "Baseline+A", "All", "Contrast-All+F", "Ref-Whole", "Ref-Centre", "Rank-a+A+F"):
        assert data["miou"][mode] is not None
    assert data["not_run"]["Top3"].startswith("Top-3 picks the 3 best of a class's pairs")
    assert "4 clusters need at least 4 classes; the dataset has 3" in data["not_run"]["S-1+A+F"]
    assert not set(data["not_run"]) & set(data["miou"])
    assert "scaled to 1, 2 of the 2 others" in data["adapted"]["Rank-a+F"]
    assert data["comparisons"]["Rank-a+F"]["Bengal"] and len(data["comparisons"]["Rank-a+F"]["Bengal"]) == 2
    code, out, _ = _cli(capsys, "run", *common, "--modes", "paper")  # the text table ends with the notes
    assert code == 0
    notes = [ln for ln in out.splitlines() if ln.startswith("note: ")]
    assert "note: Top4 not run: Top-4 picks the 4 best of a class's pairs; the dataset has 2 other class(es)" in notes
    assert sum("not run" in ln for ln in notes) == 10  # S-1..S-4 (+F, +A+F), Top3, Top4


def test_an_impossible_mode_named_alone_fails_with_one_line(pets3, tmp_path, capsys):
    code, _, err = _cli(capsys, "run", "--dataset", f"pets:{pets3}", "--modes", "Baseline,S-1+A+F", "--cache",
                        str(tmp_path / "c"), "--out", str(tmp_path / "o"), *FAST)
    lines = [ln for ln in err.splitlines() if ln.startswith("repcam: error:")]
    assert code == 2 and lines == ["repcam: error: mode S-1+A+F: 4 clusters need at least 4 classes; the dataset "
                                   "has 3 (ask for fewer clusters)"]
    assert not (tmp_path / "c" / "multiclass").exists()  # refused before any training


def test_the_pair_maps_of_three_breeds(pets3, tmp_path, capsys):
    code, out, err = _cli(capsys, "pairs", "--dataset", f"pets:{pets3}", "--cache", str(tmp_path / "c"),
                          "--out", str(tmp_path / "o"), *FAST)
    assert code == 0, err
    rows = [ln.split(",")[0] for ln in out.splitlines()]
    assert rows[:4] == ["class", "Abyssinian", "american_bulldog", "Bengal"]
    assert {"Top1", "Top2", "All", "Grad-CAM"} <= set(rows) and "Top3" not in rows
    assert any(ln.startswith("note: Top3 not run: Top-3 picks") for ln in out.splitlines())


def test_rank_runs_at_scaled_positions_and_s_k_with_a_lower_minimum(tiny_cache):
    exp = Experiment(Pipeline(tiny_config(), cache=tiny_cache))  # 6 classes: Rank-a's 3, 9, 14, 17 -> 1, 2, 4
    B = exp.p.similarity()
    comps = exp.comparisons(parse_mode("Rank-a+F"))
    assert comps == {c: [int(similarity_order(B, c)[p - 1]) for p in (1, 2, 4)] for c in range(6)}
    exp3 = Experiment(Pipeline(tiny_config(n_clusters=3, min_cluster_size=3), cache=tiny_cache))  # 9 > 6 classes
    assert exp3.cluster_sizes == (3, 2)
    assert np.bincount(exp3.p.clustering().labels, minlength=3).min() >= 2
    res = exp3.run(["S-1+F"])
    assert res.adapted["S-1+F"].endswith("minimum size lowered to 2 (floor(6/3))")
    assert exp3.mode_key(parse_mode("S-1+F"))["clusters"] == [3, 2]
