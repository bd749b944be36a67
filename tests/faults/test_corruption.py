"""Each kind of artifact, truncated or with flipped bytes: the next ``repcam run`` warns once,
naming it, moves it to the quarantine, recomputes it (the same bytes) and prints the same results."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from faultkit import argv, entry_names, results_of
from repcam_core.running.verify import verify_cache
from repcam_core.cli import main
from repcam_testing import no_traceback, survived


def _entry(cache: Path, kind: str, want=lambda key: True) -> Path:
    for man in sorted((cache / kind).glob("*/manifest.json")):
        if want(json.loads(man.read_text())["key"]):
            return man.parent
    raise AssertionError(f"no {kind} entry in {cache}")


TARGETS = {  # kind -> (the file to damage, what the warning must name)
    "multi-class model": lambda c: _entry(c, "multiclass", lambda k: "holdout" not in k) / "model.safetensors",
    "binary model": lambda c: _entry(c, "binary") / "model.safetensors",
    "B (similarity)": lambda c: _entry(c, "similarity") / "similarity.json",
    "clustering": lambda c: _entry(c, "clustering") / "clustering.json",
    "maps": lambda c: _entry(c, "maps", lambda k: "pair" in k["model"]) / "maps.safetensors",
    "results": lambda c: _entry(c, "results", lambda k: k["mode"] == "S-1+A+F") / "result.json",
    "decoded tensors": lambda c: next((c / "decoded").glob("*-train-32.npz")),
    "dataset image": lambda c: next((c / "datasets").glob("world-*")) / "JPEGImages" / "train_00001.jpg",
}
ENTRY_KINDS = {"multiclass", "binary", "similarity", "clustering", "maps", "results"}


def corrupt(path: Path, how: str, seed: int) -> bytes:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    else:  # flip a few bytes in the middle half (the payload, not a container's padding)
        rng = random.Random(seed)
        for _ in range(4):
            data[rng.randrange(len(data) // 4, 3 * len(data) // 4)] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


@pytest.fixture
def one_thread():
    """The reference was trained with one torch thread (conftest.start): retrain the same way."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("how", ["truncate", "flip"])
@pytest.mark.parametrize("kind", list(TARGETS))
def test_damaged_artifact_is_moved_aside_recomputed_and_results_are_identical(
        kind, how, reference, fault_config, tmp_path, capsys, one_thread):
    cache = tmp_path / "cache"
    shutil.copytree(reference.cache, cache)
    target = TARGETS[kind](cache)
    original = target.read_bytes()
    damaged = corrupt(target, how, seed=len(kind))

    assert main(argv(fault_config, cache, tmp_path / "out")) == 0
    out, err = capsys.readouterr()
    no_traceback(out, err, process=False)
    named = target.parent if target.parent.parent.name in ENTRY_KINDS else target
    warnings = [line for line in err.splitlines() if line.startswith("repcam: warning:")]
    assert len(warnings) == 1 and f"{named} is damaged" in warnings[0], err
    assert json.loads(out.strip().splitlines()[-1]) == reference.result
    assert results_of(cache) == reference.ious
    if kind == "decoded tensors":  # a zip stores its write time: compare the arrays
        with np.load(target) as now, np.load(reference.cache / target.relative_to(cache)) as ref:
            assert all(np.array_equal(now[k], ref[k]) for k in ref.files)
    else:
        assert target.read_bytes() == original, "recomputed to other bytes"
    assert entry_names(cache) == entry_names(reference.cache), "something was recomputed under another key"
    moved = list((cache / ".quarantine").rglob(f"{named.name}~*"))
    assert len(moved) == 1
    kept = moved[0] / target.name if moved[0].is_dir() else moved[0]
    assert kept.read_bytes() == damaged, "the damaged copy is kept, not lost"
    report = verify_cache(cache)
    assert report.damaged == [] and report.leftovers == []
    survived("corruptions healed (warned once, recomputed, identical results)")
