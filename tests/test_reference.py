"""Reference maps that need no model (Ref-Whole, Ref-Centre): checked against figures computed
independently from the masks, chosen on the calibration split only, and carried through the
protocols, the CLI and ``--seeds`` like every mode, without training anything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from repcam_core.cli import main
from repcam_core.running.config import RunConfig
from repcam_core.errors import ConfigError
from repcam_core.running.experiment import Experiment
from repcam_core.method.modes import parse_mode
from repcam_core.running.pipeline import Pipeline
from repcam_core.evaluation.protocols import count_pixels
from repcam_core.evaluation.reference import WIDTHS, RadialCounts, centre_map, reference_counts
from repcam_core.running.wsss import evaluate_wsss

S = 16  # masks are S x S and the run's image size is S: the crop changes nothing


def _box(*rects: tuple[int, int, int, int, int]) -> np.ndarray:
    """An S x S mask: 0, then each (value, y0, y1, x0, x1) painted in turn."""
    m = np.zeros((S, S), np.uint8)
    for v, y0, y1, x0, x1 in rects:
        m[y0:y1, x0:x1] = v
    return m


# val: (mask, red pixels, green pixels, non-void pixels), counted by hand from the boxes
VAL = {
    "v0": (_box((1, 0, 4, 0, 4), (255, 14, 16, 0, 8)), 16, 0, 240),
    "v1": (_box((1, 4, 12, 4, 12)), 64, 0, 256),
    "v2": (_box((2, 0, 4, 0, 8)), 0, 32, 256),
    "v3": (_box((1, 6, 10, 0, 4), (2, 6, 10, 12, 16), (255, 0, 2, 0, 16)), 16, 16, 224),
}
CALIB = {"c0": _box((1, 6, 10, 6, 10)), "c1": _box((2, 5, 11, 5, 11))}  # small centred objects
TRAIN = {"t0": _box((1, 2, 14, 2, 14)), "t1": _box((2, 2, 14, 2, 14))}


def make_dataset(root: Path) -> Path:
    """A VOC-layout directory: classes red, green; splits train, val, calib (masks as 'L' PNGs)."""
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    splits = {"val": {k: v[0] for k, v in VAL.items()}, "calib": CALIB, "train": TRAIN}
    for split, masks in splits.items():
        for image_id, mask in masks.items():
            photo = rng.integers(0, 255, (S, S, 3), dtype=np.uint8)
            Image.fromarray(photo).save(root / "JPEGImages" / f"{image_id}.jpg")
            Image.fromarray(mask, mode="L").save(root / "SegmentationClass" / f"{image_id}.png")
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(masks) + "\n")
    (root / "classes.txt").write_text("red\ngreen\n")
    return root


@pytest.fixture
def dataset(tmp_path) -> Path:
    return make_dataset(tmp_path / "voc")


@pytest.fixture
def no_training(monkeypatch):
    import repcam_core.running.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "fit", lambda *a, **k: pytest.fail("a reference map trained a model"))


def _config(dataset: Path, **changes) -> RunConfig:
    return RunConfig(dataset=f"voc:{dataset}", image_size=S, device="cpu", bootstrap=200, **changes)


def test_the_whole_image_scores_each_class_share_of_its_images(dataset, tmp_path, no_training):
    exp = Experiment(Pipeline(_config(dataset), cache=tmp_path / "c"))
    res = exp.run(["Ref-Whole"])
    red = (16 + 64 + 16) / (240 + 256 + 224)  # v0, v1, v3 contain red
    green = (32 + 16) / (256 + 224)  # v2, v3 contain green
    assert res.modes["Ref-Whole"].per_class == pytest.approx([red, green], abs=1e-12)
    data = res.to_json()
    assert data["miou"]["Ref-Whole"] == round(100 * (red + green) / 2, 2)
    values = {p: data["protocols"][p]["Ref-Whole"]["miou"] for p in ("fixed", "calibrated", "auc")}
    assert set(values.values()) == {round(100 * (red + green) / 2, 2)}  # a flat curve: the same under every protocol
    assert data["vs_baseline"]["fixed"] == {}  # no Baseline: nothing was trained to compare with
    wsss = evaluate_wsss(exp, "Ref-Whole", 0.15)  # each image's pixels all go to its first class
    assert wsss["iou"] == pytest.approx([0.0, 96 / 720, 32 / (256 + 16)], abs=1e-12)
    assert not (tmp_path / "c" / "multiclass").exists()


def test_radial_counts_equal_counting_the_map_itself():
    rng = np.random.default_rng(1)
    for size in (16, 17):
        masks = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(5, size, size), p=[0.5, 0.3, 0.1, 0.1])
        radial = RadialCounts(masks, 0)
        t = np.round(np.linspace(0, 1, 41), 3)
        for width in (0.05, 0.2, 0.6):
            cams = torch.from_numpy(np.repeat(centre_map(size, width)[None], len(masks), 0))
            expected = count_pixels(cams, torch.from_numpy(masks), 0, t)
            for got, want in zip(radial.counts(width, t), expected):
                assert np.array_equal(got, want)


def _iou_at(mask_list: list[np.ndarray], c: int, width: float, t: float) -> float:
    """Pooled IoU of class c over its images for the Gaussian of ``width`` at threshold t, by plain numpy."""
    pred = centre_map(S, width) >= np.float32(t)
    inter = sum(((m == c + 1) & pred).sum() for m in mask_list)
    union = sum((((m == c + 1) | pred) & (m != 255)).sum() for m in mask_list)
    return inter / union


def test_the_centre_width_is_chosen_on_the_calibration_split_only():
    val = [[v[0] for v in VAL.values() if (v[0] == c + 1).any()] for c in range(2)]
    calib = [[m for m in CALIB.values() if (m == c + 1).any()] for c in range(2)]
    masks = {"eval": [np.stack(v) for v in val], "calib": [np.stack(v) for v in calib]}
    thresholds = np.round(np.linspace(0, 1, 201), 3)
    counts, extra = reference_counts(parse_mode("Ref-Centre"), masks, thresholds, 0.15)
    brute = [np.mean([_iou_at(calib[c], c, w, 0.15) for c in range(2)]) for w in WIDTHS]
    assert extra["widths"]["fixed"] == WIDTHS[int(np.argmax(brute))] == extra["widths"]["calibrated"]
    fixed = extra["widths"]["fixed"]
    j = int(np.flatnonzero(thresholds == 0.15)[0])
    scored = counts["eval"].class_iou()[:, j]
    assert scored == pytest.approx([_iou_at(val[c], c, fixed, 0.15) for c in range(2)], abs=1e-12)
    poisoned = {"eval": [np.full_like(m, c + 1) for c, m in enumerate(masks["eval"])],  # objects everywhere
                "calib": masks["calib"]}
    assert reference_counts(parse_mode("Ref-Centre"), poisoned, thresholds, 0.15)[1] == extra


def test_reference_maps_in_a_run_and_without_a_calibration_split(dataset, tmp_path, no_training):
    exp = Experiment(Pipeline(_config(dataset), cache=tmp_path / "c"))
    data = exp.run(["Ref-Whole", "Ref-Centre"]).to_json()
    widths = {p: data["protocols"][p]["Ref-Centre"]["width"] for p in ("fixed", "calibrated", "auc")}
    assert set(widths.values()) <= set(WIDTHS) and widths["fixed"] == widths["calibrated"]
    assert data["protocols"]["calibrated"]["Ref-Centre"]["threshold"] is not None
    off = Experiment(Pipeline(_config(dataset, calibration_split="none"), cache=tmp_path / "c"))
    with pytest.raises(ConfigError, match="mode Ref-Centre: its width is chosen on the calibration split"):
        off.run(["Ref-Centre"])
    res = off.run(["Ref-Whole", "Ref-Centre"], optional=["Ref-Centre"])
    assert list(res.modes) == ["Ref-Whole"] and "calibration split" in res.not_run["Ref-Centre"]


def test_reference_maps_through_the_cli_with_seeds(dataset, tmp_path, capsys, no_training):
    args = ["run", "--dataset", f"voc:{dataset}", "--image-size", str(S), "--device", "cpu", "--quiet",
            "--modes", "reference", "--seeds", "0,1", "--bootstrap", "200", "--json",
            "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(data["miou"]) == ["Ref-Whole", "Ref-Centre"]
    for proto in ("fixed", "calibrated", "auc"):  # no model, no seed: the same figure for both seeds
        assert data["protocols"][proto]["Ref-Centre"]["sd"] == 0.0
    code = main(["run", "--dataset", f"voc:{dataset}", "--image-size", str(S), "--quiet", "--modes", "Ref-Centre",
                 "--calibration-split", "none", "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and [ln for ln in err.splitlines() if ln.startswith("repcam: error:")] == [
        "repcam: error: mode Ref-Centre: its width is chosen on the calibration split, and this configuration "
        "has none"]


def test_msrc_whole_image_from_the_masks(shared_data, tmp_path, no_training):
    """The whole image on MSRC-v2 val: the mode against the decoded masks by plain numpy, and the
    issue's 36.12 over the full uncropped masks (the run scores the centre crop every mode is
    scored on, where the sides, mostly background, are gone)."""
    from repcam_core.data.voc import VOCDataset

    config = RunConfig(dataset=f"voc:{shared_data / 'msrc-v2'}", device="cpu", bootstrap=200)
    exp = Experiment(Pipeline(config, cache=tmp_path))
    got = exp.run(["Ref-Whole"]).modes["Ref-Whole"].per_class
    split = exp.p.eval_split
    masks, labels = split.masks.numpy(), split.labels.numpy()
    expected = [(masks[labels[:, c]] == c + 1).sum() / (masks[labels[:, c]] != 255).sum()
                for c in range(split.num_classes)]
    assert got == pytest.approx(expected, abs=1e-12)
    ds = VOCDataset(shared_data / "msrc-v2")
    full = [ds.load_mask(i) for i in ds.split_ids("val")]
    uncropped = [sum((m == c + 1).sum() for m in full if (m == c + 1).any())
                 / sum((m != 255).sum() for m in full if (m == c + 1).any()) for c in range(ds.num_classes)]
    assert 100 * np.mean(uncropped) == pytest.approx(36.12, abs=0.005)
    assert 100 * np.mean(got) > 100 * np.mean(uncropped) + 5
