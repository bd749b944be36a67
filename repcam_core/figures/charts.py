"""The app's charts and tables as static matplotlib figures, for PNG/PDF export and papers.

Each function mirrors a Plotly chart of ``repcam_app.figures`` (the interactive version stays
Plotly) and returns a ``matplotlib.figure.Figure``; save it with
:func:`repcam_core.figures.render.render` or ``save``. Values are given as the app holds them
(IoUs as fractions, tables as strings).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from repcam_core.figures.render import figure_width, styled
from repcam_core.evaluation.percent import pct_fmt
from repcam_core.evaluation.protocols import mean_over_classes

ROW_H = 0.19  # inches per table row
CHAR_W = 0.058  # inches per character of 6.5 pt text


def table_figure(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Any:
    """A plain table: a grey bold header row, then ``rows`` (cells shown with ``str``). The figure
    is as wide as its longest cells need."""
    from matplotlib.figure import Figure

    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) * CHAR_W + 0.14 for i, h in enumerate(header)]
    top = 0.25 if title else 0.04
    with styled():
        fig = Figure(figsize=(sum(widths) + 0.08, ROW_H * (len(cells) + 1) + top + 0.04))
        ax = fig.add_axes((0.04 / fig.get_figwidth(), 0.04 / fig.get_figheight(),
                           sum(widths) / fig.get_figwidth(), ROW_H * (len(cells) + 1) / fig.get_figheight()))
        ax.set_axis_off()
        table = ax.table(cellText=cells or [[""] * len(header)], colLabels=[str(h) for h in header],
                         colWidths=[w / sum(widths) for w in widths], cellLoc="left", bbox=(0, 0, 1, 1))
        table.auto_set_font_size(False)
        for (r, _), cell in table.get_celld().items():
            cell.set_fontsize(6.5)
            cell.set_linewidth(0.4)
            cell.set_edgecolor("#999999")
            if r == 0:
                cell.set_facecolor("#eeeeee")
                cell.get_text().set_fontweight("bold")
        if title:
            fig.suptitle(title, y=1 - 0.04 / fig.get_figheight(), va="top", fontsize=7)
    return fig


def pairwise_figure(pairwise: np.ndarray, names: Sequence[str], extra_rows: Mapping[str, np.ndarray] | None = None,
                    width: str | float = "double") -> Any:
    """Table 1 as a heatmap: column = target class c, row = comparison class j (IoU of the binary
    model (c, j) alone), then one row per extra mode; values in percent written in the cells."""
    from matplotlib.figure import Figure

    rows, labels = [*np.asarray(pairwise, float).T], list(names)  # fractions
    for label, values in (extra_rows or {}).items():
        rows.append(np.asarray(values, float))
        labels.append(label)
    Z = 100 * np.array(rows)
    w = figure_width(width)
    cell = (w - 1.3) / len(names)
    with styled():
        fig = Figure(figsize=(w, 1.2 + cell * len(labels)), layout="constrained")
        ax = fig.add_subplot()
        im = ax.imshow(np.ma.masked_invalid(Z), cmap="RdYlGn", aspect="auto")
        size = max(3.0, min(6.0, cell * 72 / 3.2))
        for (r, c), v in np.ndenumerate(Z):
            if np.isfinite(v):  # one decimal for the small cells, rounded once from the fraction
                ax.text(c, r, pct_fmt(rows[r][c], decimals=1), ha="center", va="center", fontsize=size)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="left", fontsize=size + 0.5)
        ax.set_yticks(range(len(labels)), labels, fontsize=size + 0.5)
        ax.xaxis.tick_top()
        if extra_rows:
            ax.axhline(len(names) - 0.5, color="black", linewidth=1.0)
        ax.set_xlabel("target class", fontsize=6)
        ax.xaxis.set_label_position("top")
        ax.set_ylabel("comparison class / mode", fontsize=6)
        fig.colorbar(im, ax=ax, shrink=0.6, label="IoU (%)")
    return fig


def grouped_bars(groups: Mapping[str, Mapping[str, float]], ylabel: str, title: str,
                 width: str | float = "double") -> Any:
    """Bars per category (x) and series (colour): ``groups[series][category] = value``."""
    from matplotlib.figure import Figure

    categories = list(dict.fromkeys(c for vals in groups.values() for c in vals))
    n = max(1, len(groups))
    step = 0.8 / n
    with styled():
        fig = Figure(figsize=(figure_width(width), 2.4), layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(categories))
        for k, (series, vals) in enumerate(groups.items()):
            ax.bar(x - 0.4 + step * (k + 0.5), [vals.get(c, np.nan) for c in categories], step, label=series)
        ax.set_xticks(x, categories, rotation=60, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="y", linewidth=0.3, alpha=0.6)
        ax.set_axisbelow(True)
        if len(groups) > 1:
            ax.legend(frameon=False, ncols=min(len(groups), 4))
    return fig


def ablation_figure(table: Mapping[str, Mapping[str, float]], width: str | float = "double") -> Any:
    """mIoU (%) per mode, one bar per backbone: ``table[backbone][mode]``."""
    return grouped_bars(table, "mIoU (%)", "Ablation: mIoU (%) per mode", width)


def per_class_figure(names: Sequence[str], per_mode: Mapping[str, np.ndarray], width: str | float = "double") -> Any:
    """IoU (%) per class, one bar per mode (IoUs as fractions)."""
    groups = {m: dict(zip(names, 100 * np.asarray(v, float))) for m, v in per_mode.items()}
    return grouped_bars(groups, "IoU (%)", "IoU (%) per class", width)


def threshold_figure(curves: Mapping[str, tuple[Sequence[float], np.ndarray]], marked: float,
                     width: str | float = "single") -> Any:
    """mIoU (%) against the CAM threshold: ``curves[mode] = (thresholds, iou [C, T])``."""
    from matplotlib.figure import Figure

    with styled():
        fig = Figure(figsize=(figure_width(width), 2.4), layout="constrained")
        ax = fig.add_subplot()
        for mode, (ts, iou) in curves.items():
            ax.plot(list(ts), 100 * mean_over_classes(iou), marker="o", markersize=2,
                    linewidth=0.8, label=mode)
        ax.axvline(marked, color="grey", linestyle="--", linewidth=0.6)
        ax.set_xlabel("threshold")
        ax.set_ylabel("mIoU (%)")
        ax.grid(linewidth=0.3, alpha=0.6)
        ax.legend(frameon=False)
    return fig
