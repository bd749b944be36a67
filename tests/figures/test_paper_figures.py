"""The paper's CAM figures (Figs. 1, 5, 6, 7) drawn with matplotlib: real PDF/PNG/SVG files with
the expected panels, vector text, the asked size, and no model call once the maps exist."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from repcam_core.running import explore
from repcam_core.errors import ConfigError, UnknownNameError
from repcam_core.figures import WIDTHS, inputs, render
from repcam_core.figures.paper import PAPER_FIGURES, build, draw

DPI = 100
IMAGES = 2


def _car_figure(pipeline, modes: list[str]):
    """Two images of "car" with the maps of ``modes``' classes (the first mode's fill the columns)."""
    target = inputs.resolve_class(pipeline, "car")
    rows = inputs.resolve_images(pipeline, target, IMAGES)
    return inputs.collect(pipeline, target, rows, inputs.fusions_for(pipeline, target, modes))


@pytest.fixture(scope="module")
def data(tiny_pipeline):
    """Two images of "car" with the maps of S-1+A+F's and Random+A+F's classes (trains them once)."""
    return _car_figure(tiny_pipeline, ["S-1+A+F", "Random+A+F"])


def expected_columns(name: str, k: int, fusions: int, layers: int) -> int:
    """Columns per row as the issue describes each figure (k classes, L layers, F fusions)."""
    return {"fig1": 2 + k + fusions,                   # image, Grad-CAM, each class, each fusion
            "fig5": 1 + k + fusions + 2,               # image, each class, ours, Grad-CAM, GT
            "fig6": 1 + layers + 3,                    # image, Layer1..L, Adding, Fusion, Grad-CAM
            "fig7": 1 + layers + 1 + fusions + 2}[name]  # image, Layer1..L, Adding, Fusion, Grad-CAM, GT


def panels(fig) -> list:
    return [ax for ax in fig.axes if ax.images]


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


@pytest.mark.parametrize("name", PAPER_FIGURES.names())
def test_every_figure_renders_to_pdf_png_and_svg(data, name):
    k, layers = len(data.classes), len(data.images[0].layer_names)
    assert k >= 2 and layers == 4
    fig = draw(name, data, "double")
    assert len(panels(fig)) == IMAGES * expected_columns(name, k, len(data.fusions), layers)

    pdf = render.render(fig, "pdf", DPI)
    assert pdf.startswith(b"%PDF") and pdf_pages(pdf) == 1
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # text embedded as TrueType (fonttype 42), not glyphs

    png = Image.open(io.BytesIO(render.render(fig, "png", DPI)))
    width, height = fig.get_size_inches()
    assert width == WIDTHS["double"] and png.size[0] == round(WIDTHS["double"] * DPI)
    assert abs(png.size[1] - height * DPI) < 1
    pixels = np.asarray(png.convert("L"), float)
    assert pixels.std() > 20  # not blank

    svg = render.render(fig, "svg", DPI).decode()
    titles = [ax.get_title() for ax in panels(fig)[: expected_columns(name, k, len(data.fusions), layers)]]
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert all(t in texts for t in titles), (titles, texts[:20])


def test_columns_carry_the_paper_titles(data):
    names = data.class_names
    reps = [names[j] for j in data.classes]
    titles = lambda fig: [ax.get_title() for ax in panels(fig)[: len(fig.axes) // IMAGES]]  # noqa: E731
    first_row = {name: [t for t in titles(draw(name, data)) if t] for name in PAPER_FIGURES}
    assert first_row["fig5"] == ["Image", *reps, "S-1+A+F", "Random+A+F", "Grad-CAM", "GT"]
    assert first_row["fig7"] == ["Image", "Layer1", "Layer2", "Layer3", "Layer4", "Adding", "S-1+A+F", "Random+A+F",
                                 "Grad-CAM", "GT"]
    assert first_row["fig6"][-3:] == ["Adding", "Fusion", "Grad-CAM"]
    assert first_row["fig1"][:2] == ["Image", "Grad-CAM"]


def test_single_column_png_is_three_and_a_half_inches_at_the_dpi(data):
    fig = draw("fig5", data, "single")
    png = Image.open(io.BytesIO(render.render(fig, "png", 200)))
    assert png.size[0] == round(3.5 * 200)


def test_ground_truth_is_outlined_on_every_map_panel(data):
    fig = draw("fig7", data)
    for row, expl in enumerate(data.images):
        gt = (expl.mask == data.target + 1).numpy()
        assert gt.any()
        row_axes = panels(fig)[row * (len(panels(fig)) // IMAGES):(row + 1) * (len(panels(fig)) // IMAGES)]
        outlined = [bool(ax.collections) for ax in row_axes]
        assert outlined[1:-1] == [True] * (len(row_axes) - 2)  # every map; the GT panel itself has none


def test_drawing_calls_no_model_and_leaves_matplotlib_settings_alone(data, monkeypatch):
    import matplotlib

    monkeypatch.setattr(explore, "_maps", lambda *a, **k: pytest.fail("a model was called"))
    before = dict(matplotlib.rcParams)
    for name in PAPER_FIGURES:
        render.render(draw(name, data), "pdf")
    assert dict(matplotlib.rcParams) == before


def test_build_trains_nothing_more_and_checks_arguments_first(tiny_pipeline, data, monkeypatch):
    import repcam_core.running.pipeline as mod

    monkeypatch.setattr(mod, "fit", lambda *a, **k: pytest.fail("trained a model"))
    fig, again = build(tiny_pipeline, "fig5", "car", "2", ["S-1+A+F", "Random+A+F"])
    assert again.image_labels == data.image_labels and len(panels(fig)) == IMAGES * 8
    for args, error, match in [
        (("fig9",), UnknownNameError, "unknown figure 'fig9'; choose one of: fig1, fig5, fig6, fig7"),
        (("fig5", "zebra"), UnknownNameError, "unknown class 'zebra'; the dataset has: bus, car"),
        (("fig5", "car", "99"), ConfigError, "class 'car' has 3 image"),
        (("fig5", "car", "val_99999"), ConfigError, "unknown image id"),
        (("fig5", "car", "0"), ConfigError, "give 1..3"),
        (("fig5", "car", "2", "Baseline"), ConfigError, "first mode \\(Baseline\\) has none"),
        (("fig5", "car", "2", "S-1+Q"), UnknownNameError, "unknown mode"),
        (("fig5", "car", "2", "S-1+A+F", "huge"), ConfigError, "unknown figure width"),
        (("fig7", "car", "2", "S-1+A+F", 1.5), ConfigError, "do not fit"),
    ]:
        with pytest.raises(error, match=match):
            build(tiny_pipeline, *args)


def test_image_ids_must_show_the_class(tiny_pipeline):
    car = inputs.resolve_class(tiny_pipeline, "car")
    ids = tiny_pipeline.eval_split.ids
    mine = tiny_pipeline.eval_indices(car).tolist()
    assert inputs.resolve_images(tiny_pipeline, car, f"{ids[mine[1]]},{ids[mine[0]]}") == [mine[1], mine[0]]
    other = next(i for i in range(len(ids)) if i not in mine)
    with pytest.raises(ConfigError, match=f"{ids[other]} do not show 'car'"):
        inputs.resolve_images(tiny_pipeline, car, ids[other])


@pytest.mark.parametrize("path, ok", [("a.pdf", True), ("b.PNG", True), ("c.svg", True), ("d.jpg", False),
                                      ("e", False)])
def test_only_pdf_png_svg_paths_are_accepted(tmp_path, data, path, ok):
    if not ok:
        with pytest.raises(ConfigError, match="unsupported figure format"):
            render.save(draw("fig1", data), tmp_path / path)
        assert list(tmp_path.iterdir()) == []
        return
    out = render.save(draw("fig1", data), tmp_path / path)
    assert out.stat().st_size > 1000 and [p.name for p in tmp_path.iterdir()] == [path]  # no temp file left


def test_saved_figure_gets_ordinary_file_permissions(tmp_path, data):
    import os

    umask = os.umask(0o022)
    try:
        out = render.save(draw("fig1", data), tmp_path / "fig.png")
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o644  # readable by others, as any file the user writes


def test_figure_maps_are_the_explorers_maps(tiny_pipeline, data):
    """collect() computes on private model copies; the maps must be those of the shared models."""
    first = data.images[0]
    direct = explore.explain_image(tiny_pipeline, first.image, data.target, list(first.per_class), first.mask)
    assert torch.allclose(direct.baseline, first.baseline, atol=1e-5)
    for j, maps in first.per_class.items():
        assert torch.allclose(direct.per_class[j], maps, atol=1e-5)


@pytest.fixture(scope="module")
def contrast_first(tiny_pipeline):
    """The same two images with Contrast-S-1+A+F first (its classes fill the columns) and a binary mode after."""
    return _car_figure(tiny_pipeline, ["Contrast-S-1+A+F", "Random+A+F"])


def _engine_maps(p, e: explore.ImageExplanation, j: int, source: str) -> torch.Tensor:
    """Class ``j``'s per-layer maps [L, S, S] of image ``e`` straight from the engine: the binary model
    (target, j) or the multi-class model's contrast logit_target - logit_j."""
    from repcam_core.cam.engine import layer_maps
    from repcam_core.data.transforms import to_float_tensor

    x = to_float_tensor(e.image[None])
    if source == "contrast":
        maps, _ = layer_maps(p.multiclass_model(), p.spec.cam_layers, x, e.target, p.config.cam_method, contrast=j)
    else:
        a, b = sorted((e.target, j))
        maps, _ = layer_maps(p.binary_model(a, b), p.spec.cam_layers, x, 0 if e.target == a else 1,
                             p.config.cam_method)
    return maps[0]


def _scaled(m: torch.Tensor) -> torch.Tensor:
    return (m - m.min()) / (m.max() - m.min() + 1e-7)


def _one_map(maps: torch.Tensor, multilayer: bool) -> torch.Tensor:
    return _scaled(maps.sum(0) * maps[-1]) if multilayer else _scaled(maps[-1])


@pytest.mark.parametrize("which", ["binary first", "contrast first"])
def test_each_figures_maps_come_from_each_modes_own_source(tiny_pipeline, data, contrast_first, which):
    """The class columns follow the first mode's source (binary models or contrasts), each fused
    column its own mode's, every map equal to one computed here from the engine."""
    d = data if which == "binary first" else contrast_first
    assert [f.source for f in d.fusions] == (["binary", "binary"] if which == "binary first" else
                                             ["contrast", "binary"])
    first, k, n_layers = d.fusions[0], len(d.classes), len(d.images[0].layer_names)
    for e in d.images:
        ref = {(j, f.source): _engine_maps(tiny_pipeline, e, j, f.source) for f in d.fusions for j in f.classes}
        columns = [_one_map(ref[j, first.source], first.multilayer) for j in d.classes]
        fused = [_scaled(torch.stack([_one_map(ref[j, f.source], f.multilayer) for j in f.classes]).mean(0))
                 for f in d.fusions]
        layers = [ref[d.classes[0], first.source][i] for i in range(n_layers)]
        averaged = torch.stack([ref[j, first.source] for j in d.classes]).mean(0)
        averaged = [_scaled(averaged[i]) for i in range(n_layers)]
        want = {"fig1": (2, columns + fused), "fig5": (1, columns + fused), "fig6": (1, layers),
                "fig7": (1, averaged)}
        for name, (start, maps) in want.items():
            row = PAPER_FIGURES.get(name).row(d, e)
            got = [m for kind, m in row[start:start + len(maps)]]
            assert all(kind == "cam" for kind, _ in row[start:start + len(maps)]), name
            for i, (g, w) in enumerate(zip(got, maps)):
                assert torch.allclose(g, w, atol=1e-4), (name, i)
        fig7 = PAPER_FIGURES.get("fig7").row(d, e)
        for i, w in enumerate(fused):
            assert torch.allclose(fig7[1 + n_layers + 1 + i][1], w, atol=1e-4), ("fig7 fused", i)
    assert k >= 2
