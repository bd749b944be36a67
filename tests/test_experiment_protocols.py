"""The ablation modes that isolate each step and the protocols, end to end on the tiny world."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from repcam_testing import tiny_config
from repcam_core.cam import fusion
from repcam_core.cam.engine import layer_maps
from repcam_core.data.calibration import default_calibration_split, resolve_calibration_split
from repcam_core.data.transforms import to_float_tensor
from repcam_core.errors import ConfigError, DatasetError
from repcam_core.evaluation.iou import IoUAccumulator
from repcam_core.running.experiment import Experiment
from repcam_core.method.modes import parse_mode
from repcam_core.running.pipeline import Pipeline


@pytest.fixture(scope="module")
def exp(tiny_pipeline):
    return Experiment(tiny_pipeline)


def _iou_at(p: Pipeline, maps_of, t: float = 0.15) -> np.ndarray:
    acc = IoUAccumulator(p.num_classes, (t,))
    for c in range(p.num_classes):
        idx = p.eval_indices(c)
        if len(idx):
            acc.update(c, maps_of(c, idx), p.eval_split.masks[idx])
    return acc.per_class(0)


def test_baseline_a_is_the_multilayer_map_of_the_multiclass_model(exp):
    p = exp.p
    model = p.multiclass_model()

    def maps_of(c, idx):
        x = to_float_tensor(p.eval_split.images[idx])
        per_layer, _ = layer_maps(model, p.spec.cam_layers, x, c, p.config.cam_method)
        return fusion.normalise(fusion.multilayer(per_layer).half().float())

    result = exp.evaluate_mode(parse_mode("Baseline+A"))
    assert result.comparisons == {c: [] for c in range(p.num_classes)}
    np.testing.assert_allclose(result.per_class, _iou_at(p, maps_of), atol=1e-6)
    plain = exp.evaluate_mode(parse_mode("Baseline"))
    assert not np.allclose(plain.iou, result.iou)


def test_contrast_mode_averages_contrast_maps_without_binary_models(tmp_path):
    p = Pipeline(tiny_config(), cache=tmp_path)
    exp = Experiment(p)
    result = exp.evaluate_mode(parse_mode("Contrast-S-1+A+F"))
    assert not list((tmp_path / "binary").glob("*/manifest.json"))  # no binary model was trained
    model = p.multiclass_model()

    def maps_of(c, idx):
        x = to_float_tensor(p.eval_split.images[idx])
        per_j = []
        for j in result.comparisons[c]:
            m, _ = layer_maps(model, p.spec.cam_layers, x, c, p.config.cam_method, contrast=j)
            per_j.append(fusion.multilayer(m).half())
        return fusion.average(torch.stack(per_j))

    np.testing.assert_allclose(result.per_class, _iou_at(p, maps_of), atol=1e-6)
    s1 = exp.comparisons(parse_mode("S-1+A+F"))
    assert result.comparisons == s1  # the same comparison classes as the binary-model mode


def test_calibration_reads_no_evaluation_image(exp, tmp_path):
    """Calibrated on a fresh cache with every evaluation image and mask poisoned: the calibration
    counts and each mode's calibrated threshold are those of the clean run."""
    clean = {m: exp.evaluate_mode(parse_mode(m)) for m in ("Baseline", "S-1+A+F")}
    poisoned = Pipeline(tiny_config(), cache=tmp_path)
    ev = poisoned.eval_split
    gen = torch.Generator().manual_seed(0)
    poisoned.__dict__["eval_split"] = replace(
        ev, images=torch.randint(0, 256, ev.images.shape, generator=gen, dtype=torch.uint8),
        masks=torch.randint(0, 7, ev.masks.shape, generator=gen, dtype=torch.uint8))
    pexp = Experiment(poisoned)
    for name, res in clean.items():
        bad = pexp.evaluate_mode(parse_mode(name))
        for c in range(poisoned.num_classes):
            np.testing.assert_array_equal(bad.calib_counts.inter[c], res.calib_counts.inter[c])
            np.testing.assert_array_equal(bad.calib_counts.pred[c], res.calib_counts.pred[c])
        assert not all(np.array_equal(a, b) for a, b in zip(bad.counts.inter, res.counts.inter))
    clean_run = exp.run(["Baseline", "S-1+A+F"]).to_json()["protocols"]["calibrated"]
    bad_run = pexp.run(["Baseline", "S-1+A+F"]).to_json()["protocols"]["calibrated"]
    assert {m: v["threshold"] for m, v in clean_run.items()} == {m: v["threshold"] for m, v in bad_run.items()}


def test_run_reports_every_protocol_in_the_documented_shape(exp):
    res = exp.run(["Baseline", "Baseline+A", "S-1+A+F", "Contrast-S-1+F"])
    data = json.loads(json.dumps(res.to_json()))
    assert set(data["protocols"]) == {"fixed", "calibrated", "auc"}
    for proto, entries in data["protocols"].items():
        assert list(entries) == ["Baseline", "Baseline+A", "S-1+A+F", "Contrast-S-1+F"]
        for mode, e in entries.items():
            lo, hi = e["ci"]
            assert lo <= e["miou"] <= hi, (proto, mode, e)
    assert all(e["threshold"] == 0.15 for e in data["protocols"]["fixed"].values())
    assert data["protocols"]["fixed"]["S-1+A+F"]["miou"] == data["miou"]["S-1+A+F"]
    grid = set(exp.thresholds)
    assert all(e["threshold"] in grid for e in data["protocols"]["calibrated"].values())
    assert all("threshold" not in e for e in data["protocols"]["auc"].values())
    for proto in ("fixed", "calibrated", "auc"):
        vs = data["vs_baseline"][proto]
        assert list(vs) == ["Baseline+A", "S-1+A+F", "Contrast-S-1+F"]
        for mode, e in vs.items():
            own, base = data["protocols"][proto][mode]["miou"], data["protocols"][proto]["Baseline"]["miou"]
            # diff is rounded once from the unrounded values; own and base are each rounded
            # (0.005 at most), so their difference is at most 0.01 from it (1e-9: float slack)
            assert abs(e["diff"] - (own - base)) <= 0.01 + 1e-9
            assert 0 <= e["p_better"] <= 1 and e["ci"][0] <= e["ci"][1]
    cal = data["calibration"]
    assert cal == {"split": "calib", "images": len(exp.p.calibration_split), "eval_split": "val"}
    assert "calibrated (t)" in res.text() and "Against the Baseline" in res.text()


def test_the_baseline_is_compared_even_when_not_asked_for(exp):
    data = exp.run(["S-1+A+F"]).to_json()
    assert list(data["protocols"]["fixed"]) == ["S-1+A+F"]
    assert list(data["vs_baseline"]["auc"]) == ["S-1+A+F"]


def test_calibration_off_reports_no_calibrated_figure(tmp_path, tiny_pipeline):
    p = Pipeline(tiny_config(calibration_split="none"), cache=tiny_pipeline.cache)
    data = Experiment(p).run(["Baseline", "S-1+F"]).to_json()
    assert data["calibration"]["split"] is None
    assert all(e["miou"] is None and e["threshold"] is None for e in data["protocols"]["calibrated"].values())
    assert data["protocols"]["auc"]["S-1+F"]["miou"] is not None


def test_default_calibration_splits_by_dataset():
    assert default_calibration_split("embedded", "val") == "calib"
    assert default_calibration_split("embedded", "calib") == "val"
    assert default_calibration_split("voc", "val") == "train"
    assert default_calibration_split("voc", "train") == "val"
    assert default_calibration_split("voc", "aug/val") == "aug/train"
    assert default_calibration_split("coco", "val") == "train-calib"
    assert default_calibration_split("coco", "train-single") == "val"
    assert default_calibration_split("pets", "test") == "calib"
    assert default_calibration_split("pets", "calib") == "test"


class _Splits:
    root = "/data/x"

    def __init__(self, **splits):
        self._s = splits

    def split_ids(self, name):
        if name not in self._s:
            raise DatasetError(f"split {name!r} not found")
        return self._s[name]

    def splits(self):
        return sorted(self._s)


def test_calibration_split_must_be_disjoint_existing_and_not_the_evaluation_split():
    ds = _Splits(val=["a", "b"], train=["c"], mixed=["b", "d"], calib=["e"])
    assert resolve_calibration_split(ds, "voc", "val", "") == "calib"  # a generated world's own split
    assert resolve_calibration_split(ds, "voc", "val", "train") == "train"
    assert resolve_calibration_split(ds, "voc", "val", "none") is None
    with pytest.raises(ConfigError, match="shares 1 image"):
        resolve_calibration_split(ds, "voc", "val", "mixed")
    with pytest.raises(ConfigError, match="is the evaluation split"):
        resolve_calibration_split(ds, "voc", "val", "val")
    with pytest.raises(DatasetError, match="'nope' not found"):
        resolve_calibration_split(ds, "voc", "val", "nope")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve_calibration_split(_Splits(val=["a"]), "coco", "val", "") is None
    assert "calibrated protocol is off" in str(caught[0].message)
    with warnings.catch_warnings(record=True) as caught:  # a default that overlaps: off, never an error
        warnings.simplefilter("always")
        assert resolve_calibration_split(_Splits(val=["a", "b"], train=["b", "c"]), "voc", "val", "") is None
    assert "default 'train' shares 1 image(s)" in str(caught[0].message)


def test_coco_train_calib_is_held_out_of_training(tmp_path):
    from repcam_core.data.coco import CALIB_EVERY, COCODataset
    from repcam_core.data.world import WorldConfig, write_coco
    from repcam_testing import TINY_WORLD

    ds = COCODataset(write_coco(tmp_path / "coco", WorldConfig(**{**TINY_WORLD, "train_per_class": 20})))
    calib, single, train = (set(ds.split_ids(s)) for s in ("train-calib", "train-single", "train"))
    assert calib and not calib & single and calib <= train
    assert all(int(i) % CALIB_EVERY == 0 for i in calib)
    assert len(calib) == sum(int(i) % CALIB_EVERY == 0 for i in train)
    assert resolve_calibration_split(ds, "coco", "val", "") == "train-calib"
