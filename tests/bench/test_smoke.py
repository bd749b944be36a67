"""The benchmark suite's smoke mode runs end to end (so it cannot rot) and its figures hold
together: our per-layer maps agree with pytorch-grad-cam's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_smoke_suite_prints_every_figure_as_last_json_line():
    import pytorch_grad_cam  # noqa: F401  (pinned in requirements-dev.txt: the comparison below needs it)

    out = subprocess.run([sys.executable, "-m", "bench", "--smoke"], cwd=ROOT, capture_output=True, text=True,
                         timeout=110)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("cam_vs_gradcam", "cam_vs_forward", "max_abs_diff", "repcam_vs_baseline", "train_vs_reference",
                "kmeans_20_ms", "kmeans_80_ms", "fuse_iou_ms", "scaling_images"):
        assert key in figures, key
    backbones = {"tinynet", "resnet18@64", "mobilenet_v2@64", "resnet50@64", "vgg19@64"}
    assert set(figures["cam_vs_gradcam"]) == backbones == set(figures["max_abs_diff"]) == set(figures["cam_vs_forward"])
    assert all(d < 1e-4 for d in figures["max_abs_diff"].values()), figures["max_abs_diff"]
    assert all(r > 0 for r in figures["cam_vs_gradcam"].values())
