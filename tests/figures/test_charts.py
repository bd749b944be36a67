"""The app's charts and tables as matplotlib figures (PNG export without kaleido or a browser),
and the figure package's import hygiene."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from repcam_core.figures import charts, render

NAMES = ["bus", "car", "cat", "dog", "chair", "sofa"]


def png_pixels(fig, dpi: int = 100) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(render.render(fig, "png", dpi))).convert("L"), float)


def test_table_figure_writes_every_cell_as_text():
    rows = [["Baseline", "28.46", "—"], ["S-1+A+F", "34.05", "30.10"]]
    fig = charts.table_figure(["mode", "tinynet", "resnet18"], rows, title="Ablation")
    svg = render.render(fig, "svg").decode()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for cell in ["mode", "tinynet", "Baseline", "34.05", "30.10", "Ablation"]:
        assert cell in texts
    pixels = png_pixels(fig)
    assert pixels.std() > 10 and pixels.shape[1] > pixels.shape[0]  # a wide, non-blank table


def test_a_longer_cell_makes_a_wider_table():
    narrow = charts.table_figure(["a"], [["1"]]).get_size_inches()[0]
    wide = charts.table_figure(["a"], [["a much longer cell value"]]).get_size_inches()[0]
    assert wide > narrow + 1


def test_pairwise_figure_has_one_row_per_class_and_mode():
    P = np.random.default_rng(0).uniform(0, 1, (6, 6))
    np.fill_diagonal(P, np.nan)
    fig = charts.pairwise_figure(P, NAMES, {"Top1": np.full(6, 0.5), "Grad-CAM": np.full(6, 0.2)})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [*NAMES, "Top1", "Grad-CAM"]
    assert ax.images[0].get_array().shape == (8, 6)
    assert sum(t.get_text() == "50.0" for t in ax.texts) == 6  # the values are written in the cells
    assert png_pixels(fig).std() > 20


def test_bar_and_curve_charts_render():
    iou = np.random.default_rng(1).uniform(0, 1, (6, 3))
    figs = [charts.ablation_figure({"tinynet": {"Baseline": 28.5, "S-1+A+F": 34.1}, "resnet18": {"Baseline": 25.0}}),
            charts.per_class_figure(NAMES, {"Baseline": iou[:, 0], "S-1+A+F": iou[:, 1]}),
            charts.threshold_figure({"Baseline": ([0.1, 0.15, 0.2], iou)}, 0.15)]
    for fig in figs:
        assert png_pixels(fig).std() > 10
    heights = sorted(h for b in figs[0].axes[0].patches if np.isfinite(h := b.get_height()))
    assert heights == [25.0, 28.5, 34.1]  # two modes for tinynet, one for resnet18 (its missing one not drawn)
    assert [t.get_text() for t in figs[1].axes[0].get_xticklabels()] == NAMES


def test_importing_figures_and_config_loads_neither_matplotlib_nor_sklearn():
    code = ("import sys, repcam_core.figures, repcam_core.figures.render, repcam_core.method.clusterers; "
            "from repcam_core.running.config import RunConfig; RunConfig(clustering='spectral'); "
            "print('matplotlib' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
