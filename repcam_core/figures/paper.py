"""The paper's CAM figures with matplotlib, from the same per-layer maps the explorer uses.

:func:`build` gathers what a figure needs through the cached :class:`Pipeline`
(:func:`repcam_core.figures.inputs.collect`: the multi-class model, each representative class's
binary model, one forward + backward pass per model and image) and :func:`draw` lays the maps out
in one of the paper's layouts without another model call. The app's explorer draws the same
:class:`FigureData` from the image it shows (:func:`~repcam_core.figures.inputs.from_explanation`),
the CLI and the Results page call :func:`build`.

Layouts (rows = images; every map is overlaid on its image in the jet colour map, the target's
ground truth outlined in white, one colour bar for the figure):

* **fig1** — Image, Grad-CAM, the map of each comparison class's binary model, the fusion;
* **fig5** — Image, each representative class's map, Ours (their fusion), Grad-CAM, GT;
* **fig6** — Image, the per-layer maps Layer1..LayerL of one binary model (the first
  representative class), Adding (their sum), Fusion (sum x last layer, the paper's "+A"), Grad-CAM;
* **fig7** — Image, Layer1..LayerL, Adding, Fusion, Grad-CAM, GT (the COCO figure).

Choices made where the paper is silent: a class's map in figs. 1 and 5 follows the mode ("+A":
multi-layer, else the last layer); fig. 7's layer maps are the average over the representative
classes' binary models of each layer's map (the fused map averages those models, so its layers
are averaged likewise), and "Adding" is the normalised sum of the chosen layers; with several
modes, the fusion column repeats per mode (titled by the mode) and the first mode's classes fill
the other columns. "Layer k" is the backbone's k-th CAM layer (VGG-19 has five).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from repcam_core.running import explore
from repcam_core.cam.engine import normalise
from repcam_core.errors import ConfigError
from repcam_core.figures import inputs
from repcam_core.figures.inputs import FigureData
from repcam_core.figures.render import figure_width, styled
from repcam_core.registry import Registry

Panel = tuple[str, Any]
"""One cell of a figure: ``("image", None)``, ``("cam", [S, S] map)`` or ``("gt", None)``."""


@dataclass(frozen=True)
class FigureSpec:
    """One layout: its column titles and the panels of one image's row."""

    columns: Callable[[FigureData], list[str]]
    row: Callable[[FigureData, explore.ImageExplanation], list[Panel]]
    description: str


PAPER_FIGURES: Registry[FigureSpec] = Registry("figure")


def draw(name: str, data: FigureData, width: str | float = "double") -> Any:
    """The figure ``name`` (fig1, fig5, fig6, fig7) as a ``matplotlib.figure.Figure``."""
    spec = PAPER_FIGURES.get(name)
    if not data.images:
        raise ConfigError(f"{name} needs at least one image")
    if not data.classes:
        raise ConfigError(f"{name} shows the maps of representative classes; mode {data.fusions[0].label!r} has none")
    with styled():
        return _grid(spec.columns(data), _rows(spec, data), figure_width(width))


def build(pipeline: Any, name: str, class_name: str | None = None, images: str | int | None = None,
          modes: str | Sequence[str] = inputs.DEFAULT_MODES, width: str | float = "double") -> tuple[Any, FigureData]:
    """Figure ``name`` of class ``class_name`` (default the first) over ``images`` (N or image ids)
    for ``modes``, everything it needs computed (or trained) through the Pipeline's cache.

    Arguments are checked before any training. Returns (the figure, what it shows)."""
    PAPER_FIGURES.get(name)
    inches = figure_width(width)
    modes = inputs.figure_modes(modes)
    target = inputs.resolve_class(pipeline, class_name)
    rows = inputs.resolve_images(pipeline, target, images)
    data = inputs.collect(pipeline, target, rows, inputs.fusions_for(pipeline, target, modes))
    return draw(name, data, inches), data


# --------------------------------------------------------------------------- the four layouts
def _cam(data: FigureData, maps: torch.Tensor, multilayer: bool) -> Panel:
    return ("cam", explore.combine_layers(maps, data.layers, multilayer))


def _fused(data: FigureData, e: explore.ImageExplanation) -> list[Panel]:
    return [("cam", explore.fuse(e, f.classes, data.layers, f.multilayer, f.source)) for f in data.fusions]


def _per(data: FigureData, e: explore.ImageExplanation) -> dict[int, torch.Tensor]:
    """The column classes' per-layer maps: binary models, or contrasts for a Contrast-* mode."""
    return explore.source_maps(e, data.fusions[0].source)


def _gradcam(e: explore.ImageExplanation) -> Panel:
    return ("cam", explore.combine_layers(e.baseline, multilayer=False))


def _layer_columns(data: FigureData) -> list[str]:
    return [f"Layer{k + 1}" for k in range(len(data.images[0].layer_names))]


def _adding(data: FigureData, maps: torch.Tensor) -> Panel:
    chosen = list(range(maps.shape[0])) if data.layers is None else list(data.layers)
    return ("cam", normalise(maps[chosen].sum(0)) if chosen else torch.zeros_like(maps[-1]))


PAPER_FIGURES.add("fig1", FigureSpec(
    columns=lambda d: ["Image", "Grad-CAM", *[d.class_names[j] for j in d.classes],
                       *[d.fusion_title(f, "Fusion") for f in d.fusions]],
    row=lambda d, e: [("image", None), _gradcam(e),
                      *[_cam(d, _per(d, e)[j], d.fusions[0].multilayer) for j in d.classes], *_fused(d, e)],
    description="image, Grad-CAM, the map of each comparison class, the fused map"))

PAPER_FIGURES.add("fig5", FigureSpec(
    columns=lambda d: ["Image", *[d.class_names[j] for j in d.classes],
                       *[d.fusion_title(f, "Ours") for f in d.fusions], "Grad-CAM", "GT"],
    row=lambda d, e: [("image", None), *[_cam(d, _per(d, e)[j], d.fusions[0].multilayer) for j in d.classes],
                      *_fused(d, e), _gradcam(e), ("gt", None)],
    description="each representative class's map, their fusion, Grad-CAM, ground truth"))


def _fig6_row(d: FigureData, e: explore.ImageExplanation) -> list[Panel]:
    maps = _per(d, e)[d.classes[0]]
    return [("image", None), *[("cam", m) for m in maps], _adding(d, maps), _cam(d, maps, True), _gradcam(e)]


PAPER_FIGURES.add("fig6", FigureSpec(
    columns=lambda d: ["Image", *_layer_columns(d), "Adding", "Fusion", "Grad-CAM"],
    row=_fig6_row,
    description="per-layer maps of one binary model, their sum, the multi-layer fusion, Grad-CAM"))


def _fig7_row(d: FigureData, e: explore.ImageExplanation) -> list[Panel]:
    layers = normalise(torch.stack([_per(d, e)[j] for j in d.classes]).float().mean(0))
    return [("image", None), *[("cam", m) for m in layers], _adding(d, layers), *_fused(d, e), _gradcam(e),
            ("gt", None)]


PAPER_FIGURES.add("fig7", FigureSpec(
    columns=lambda d: ["Image", *_layer_columns(d), "Adding", *[d.fusion_title(f, "Fusion") for f in d.fusions],
                       "Grad-CAM", "GT"],
    row=_fig7_row,
    description="a grid over images: image, Layer1..L, Adding, Fusion, Grad-CAM, GT"))


# --------------------------------------------------------------------------- drawing
LEFT_LABELS, RIGHT_BAR, TOP_TITLES, BOTTOM, GAP = 0.16, 0.40, 0.2, 0.04, 0.03  # inches
MIN_PANEL = 0.15  # inches
GT_COLOURS = {"background": 0, "other": 70, "void": 150, "target": 255}  # grey levels of the GT panel


@dataclass(frozen=True)
class _Row:
    image: np.ndarray  # uint8 [S, S, 3]
    mask: np.ndarray | None  # uint8 [S, S] (0 bg, 1..C, 255 void)
    target: int
    panels: list[Panel]
    label: str

    @property
    def gt(self) -> np.ndarray | None:
        return None if self.mask is None else self.mask == self.target + 1


def _rows(spec: FigureSpec, data: FigureData) -> list[_Row]:
    return [_Row(e.image.permute(1, 2, 0).numpy(), None if e.mask is None else e.mask.numpy(), data.target,
                 spec.row(data, e), label) for e, label in zip(data.images, data.image_labels)]


def _grid(titles: list[str], rows: list[_Row], width: float) -> Any:
    """Square panels in a grid exactly ``width`` inches wide, titles on top, image labels on the
    left, one jet colour bar on the right."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    ncols, nrows = len(titles), len(rows)
    left = LEFT_LABELS if any(r.label for r in rows) else BOTTOM
    cell = (width - left - RIGHT_BAR - GAP * (ncols - 1)) / ncols
    if cell < MIN_PANEL:
        raise ConfigError(f"{ncols} panels per row do not fit in {width:.2f} in; use a wider figure (--width double)")
    height = TOP_TITLES + BOTTOM + nrows * cell + GAP * (nrows - 1)
    fig = Figure(figsize=(width, height))
    title_size = max(3.5, min(7.0, cell * 72 / (0.6 * max(len(t) for t in titles))))
    for r, row in enumerate(rows):
        y = height - TOP_TITLES - (r + 1) * cell - r * GAP
        for c, panel in enumerate(row.panels):
            ax = fig.add_axes(((left + c * (cell + GAP)) / width, y / height, cell / width, cell / height))
            _panel(ax, row, panel)
            if r == 0:
                ax.set_title(titles[c], fontsize=title_size, pad=2)
        if row.label:
            fig.text((left - GAP) / width, (y + cell / 2) / height, row.label, rotation=90, ha="right",
                     va="center", fontsize=min(title_size, 5.5))
    cax = fig.add_axes(((width - RIGHT_BAR + 0.08) / width, BOTTOM / height, 0.07 / width,
                        (height - TOP_TITLES - BOTTOM) / height))
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap="jet"), cax=cax, ticks=[0, 0.5, 1])
    bar.ax.tick_params(labelsize=5, length=2, width=0.5, pad=1)
    bar.outline.set_linewidth(0.5)
    return fig


def _panel(ax: Any, row: _Row, panel: Panel) -> None:
    kind, cam = panel
    ax.set_axis_off()
    if kind == "gt":
        if row.mask is None:
            ax.imshow(np.full(row.image.shape, 235, np.uint8))
            ax.text(0.5, 0.5, "no GT", transform=ax.transAxes, ha="center", va="center", fontsize=5)
            return
        view = np.full(row.mask.shape, GT_COLOURS["background"], np.uint8)
        view[(row.mask > 0) & (row.mask != 255)] = GT_COLOURS["other"]
        view[row.mask == 255] = GT_COLOURS["void"]
        view[row.gt] = GT_COLOURS["target"]
        ax.imshow(view, cmap="gray", vmin=0, vmax=255)
        return
    ax.imshow(row.image)
    if kind == "cam":
        values = cam.float().numpy() if isinstance(cam, torch.Tensor) else np.asarray(cam, float)
        ax.imshow(values, cmap="jet", vmin=0.0, vmax=1.0, alpha=0.5, interpolation="bilinear")
    gt = row.gt
    if gt is not None and gt.any() and not gt.all():
        ax.contour(gt.astype(float), levels=[0.5], colors="white", linewidths=0.5)
