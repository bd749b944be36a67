"""Figures for the app: Plotly charts and CAM overlays (numpy/PIL images). No Streamlit here.

Static exports (PNG/PDF) of these charts are drawn with matplotlib by
:mod:`repcam_core.figures.charts` (see ``repcam_app/exports.py``), not from the Plotly figures."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from repcam_core.evaluation.percent import fmt, pct_fmt
from repcam_core.evaluation.protocols import mean_over_classes

# A jet-like colormap: anchors at 0, .35, .5, .65, 1 (blue -> cyan -> green -> yellow -> red).
_CMAP_X = np.array([0.0, 0.125, 0.375, 0.625, 0.875, 1.0])
_CMAP_RGB = np.array([[0, 0, 128], [0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0], [128, 0, 0]], float)
DISPLAY = 192  # pixels a map is shown at


def colorize(cam: np.ndarray) -> np.ndarray:
    """[H, W] in [0, 1] -> uint8 [H, W, 3] jet colours."""
    cam = np.clip(np.asarray(cam, dtype=float), 0, 1)
    return np.stack([np.interp(cam, _CMAP_X, _CMAP_RGB[:, i]) for i in range(3)], -1).astype(np.uint8)


def outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels (bool [H, W]) of a boolean region."""
    m = np.asarray(mask, bool)
    p = np.pad(m, 1, mode="edge")
    inner = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~inner


def upscale(rgb: np.ndarray, size: int = DISPLAY) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST))


def to_hwc(image_chw) -> np.ndarray:
    """uint8 [3, S, S] tensor/array -> uint8 [S, S, 3] array."""
    arr = image_chw.numpy() if hasattr(image_chw, "numpy") else np.asarray(image_chw)
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


def overlay(image_chw, cam, gt: np.ndarray | None = None, alpha: float = 0.5,
            threshold: float | None = None, size: int = DISPLAY) -> np.ndarray:
    """The image blended with the jet-coloured map; the ground truth outlined in white and the
    thresholded map's outline in magenta. Returns uint8 [size, size, 3]."""
    img = to_hwc(image_chw).astype(float)
    cam = cam.numpy() if hasattr(cam, "numpy") else np.asarray(cam)
    out = (1 - alpha) * img + alpha * colorize(cam)
    out = upscale(out.clip(0, 255).astype(np.uint8), size)
    if threshold is not None:
        pred = np.asarray(Image.fromarray((cam >= threshold).astype(np.uint8) * 255).resize((size, size), 0)) > 0
        out = out.copy()
        out[outline(pred)] = (255, 0, 255)
    if gt is not None:
        big = np.asarray(Image.fromarray(gt.astype(np.uint8) * 255).resize((size, size), 0)) > 0
        out = out.copy()
        out[outline(big)] = (255, 255, 255)
    return out


def strip(images: Sequence[np.ndarray], gap: int = 6) -> np.ndarray:
    """Equal-sized uint8 [H, W, 3] images side by side with white gaps: one picture for the browser
    to fetch and draw where separate images would each be a request (the explorer's toggles)."""
    h = images[0].shape[0]
    white = np.full((h, gap, 3), 255, np.uint8)
    parts = [part for im in images for part in (white, im)][1:]
    return np.concatenate(parts, axis=1)


def inline(rgb: np.ndarray, caption: str, quality: int = 90) -> str:
    """HTML of ``rgb`` (uint8 [H, W, 3]) as an inline JPEG with its caption, for ``st.html``. The
    explorer's toggles redraw their maps this way: the picture arrives with the page's update
    instead of as a separate request to the server afterwards (a what-if step that showed a new
    map took a request per image, measured up to a few hundred ms on the busy 2-core machine)."""
    import base64
    import html
    import io

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    data = base64.b64encode(buf.getvalue()).decode()
    return (f'<figure class="repcam-map" style="margin:0"><img src="data:image/jpeg;base64,{data}" '
            f'width="{rgb.shape[1]}" height="{rgb.shape[0]}" style="max-width:100%;height:auto" '
            f'alt="{html.escape(caption)}"/><figcaption style="font-size:0.875rem;opacity:0.6">'
            f'{html.escape(caption)}</figcaption></figure>')


def similarity_heatmap(B: np.ndarray, names: Sequence[str], order: Sequence[int] | None = None,
                       normalise: bool = False, labels: Sequence[int] | None = None,
                       title: str = "Similarity matrix B") -> go.Figure:
    """B as a heatmap (row i = images of class i, column j = probability mass on class j).

    ``order`` permutes rows and columns (e.g. by cluster); ``labels`` (cluster ids, in original
    class order) draws a box around each cluster's diagonal block when ``order`` groups them."""
    from repcam_core.method.similarity import normalise_rows

    M = np.asarray(B, float).copy()
    if normalise:
        M = normalise_rows(M)
    np.fill_diagonal(M, np.nan)  # correct classification carries no similarity information
    idx = list(range(len(names))) if order is None else [int(i) for i in order]
    M = M[np.ix_(idx, idx)]
    shown = [names[i] for i in idx]
    fig = go.Figure(go.Heatmap(
        z=M, x=shown, y=shown, colorscale="Viridis",
        hovertemplate="images of <b>%{y}</b><br>mass on <b>%{x}</b><br>value %{z:.3f}<extra></extra>"))
    if labels is not None and order is not None:
        lab = np.asarray(labels)[idx]
        start = 0
        for i in range(1, len(lab) + 1):
            if i == len(lab) or lab[i] != lab[start]:
                fig.add_shape(type="rect", x0=start - 0.5, x1=i - 0.5, y0=start - 0.5, y1=i - 0.5,
                              line=dict(color="white", width=2))
                start = i
    fig.update_layout(title=title, yaxis=dict(autorange="reversed", title="class i (row)"),
                      xaxis=dict(title="class j", tickangle=-45), height=560, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def ranked_bar(B: np.ndarray, names: Sequence[str], c: int, normalise: bool = False) -> go.Figure:
    """Fig. 3: the classes most similar to class ``c``, most similar first."""
    from repcam_core.method.selection import similarity_order
    from repcam_core.method.similarity import normalise_rows

    M = normalise_rows(np.asarray(B, float)) if normalise else np.asarray(B, float)
    order = similarity_order(M, c)
    fig = go.Figure(go.Bar(x=[names[j] for j in order], y=M[c, order], marker_color="#4c78a8",
                           text=[f"#{r + 1}" for r in range(len(order))], textposition="outside",
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(title=f"Classes most similar to “{names[c]}” (rank order)", yaxis_title="B[c, j]",
                      height=380, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def pairwise_heatmap(pairwise: np.ndarray, names: Sequence[str],
                     extra_rows: dict[str, np.ndarray] | None = None) -> go.Figure:
    """Table 1: column = target class c, row = comparison class j (IoU of model (c, j) alone), then
    one row per extra mode (Top-k, All, Baseline) with its per-class IoU. Values in percent."""
    rows, ylabels = [*np.asarray(pairwise, float).T], list(names)  # fractions, [j, c]
    for label, values in (extra_rows or {}).items():
        rows.append(np.asarray(values, float))
        ylabels.append(f"▸ {label}")
    F = np.array(rows)
    Z = 100 * F
    cells = [[pct_fmt(v, missing="", decimals=1) for v in row] for row in F]  # short labels, rounded once
    fig = go.Figure(go.Heatmap(
        z=Z, x=list(names), y=ylabels, colorscale="RdYlGn", zmin=np.nanmin(Z) if np.isfinite(Z).any() else 0,
        text=cells, texttemplate="%{text}", customdata=[[pct_fmt(v) for v in row] for row in F],
        hovertemplate="target <b>%{x}</b><br>with <b>%{y}</b><br>IoU %{customdata}%<extra></extra>"))
    if extra_rows:
        fig.add_hline(y=len(names) - 0.5, line=dict(color="black", width=2))
    fig.update_layout(title="Pairwise IoU (%) of each binary model alone, Table 1", height=120 + 26 * len(ylabels),
                      yaxis=dict(autorange="reversed"), xaxis=dict(side="top", tickangle=-45),
                      margin=dict(l=10, r=10, t=90, b=10))
    return fig


def ablation_bars(table: dict[str, dict[str, float]], intervals: dict[str, dict[str, Sequence]] | None = None,
                  title: str = "Ablation: mIoU (%) per mode") -> go.Figure:
    """mIoU (%) per mode, one bar group per backbone: ``table[backbone][mode]``; error bars from
    ``intervals[backbone][mode] = [lo, hi]`` (the 95 % bootstrap interval) when given."""
    fig = go.Figure()
    for backbone, modes in table.items():
        names, vals = list(modes), [np.nan if v is None else v for v in modes.values()]
        error = None
        if intervals and backbone in intervals:
            ci = [intervals[backbone].get(m) or [None, None] for m in names]
            up = [np.nan if hi is None or v is None else hi - v for v, (_, hi) in zip(vals, ci)]
            down = [np.nan if lo is None or v is None else v - lo for v, (lo, _) in zip(vals, ci)]
            error = dict(type="data", symmetric=False, array=up, arrayminus=down, thickness=1)
        fig.add_bar(name=backbone, x=names, y=vals, error_y=error, customdata=[fmt(v) for v in vals],
                    hovertemplate="%{x}: %{customdata}%<extra>" + backbone + "</extra>")
    fig.update_layout(title=title, barmode="group", yaxis_title="mIoU (%)",
                      height=420, margin=dict(l=10, r=10, t=50, b=10), xaxis=dict(tickangle=-45))
    return fig


def per_class_bars(names: Sequence[str], per_mode: dict[str, np.ndarray]) -> go.Figure:
    fig = go.Figure()
    for mode, vals in per_mode.items():
        fig.add_bar(name=mode, x=list(names), y=100 * np.asarray(vals, float),
                    customdata=[pct_fmt(v) for v in np.asarray(vals, float)],
                    hovertemplate="%{x}: %{customdata}%<extra>" + mode + "</extra>")
    fig.update_layout(title="IoU (%) per class", barmode="group", yaxis_title="IoU (%)", height=400,
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def threshold_curves(curves: dict[str, tuple[Sequence[float], np.ndarray]], marked: float,
                     calibrated: dict[str, float | None] | None = None) -> go.Figure:
    """mIoU vs threshold: ``curves[mode] = (thresholds, iou [C, T])``; the fixed threshold as a
    dashed line and each mode's calibrated threshold (``calibrated[mode]``) as a diamond on its curve."""
    import plotly.colors

    fig = go.Figure()
    palette = plotly.colors.qualitative.Plotly
    for k, (mode, (ts, iou)) in enumerate(curves.items()):
        miou = mean_over_classes(iou)  # the computation behind the tables' figures
        colour = palette[k % len(palette)]
        fig.add_scatter(x=list(ts), y=100 * miou, mode="lines", name=mode, line=dict(color=colour),
                        customdata=[pct_fmt(v) for v in miou],
                        hovertemplate="t=%{x:.3f}: %{customdata}%<extra>" + mode + "</extra>")
        t_cal = (calibrated or {}).get(mode)
        if t_cal is not None:
            j = int(np.argmin(np.abs(np.asarray(ts, float) - t_cal)))
            fig.add_scatter(x=[t_cal], y=[100 * miou[j]], mode="markers", showlegend=False,
                            marker=dict(symbol="diamond", size=11, color=colour, line=dict(color="black", width=1)),
                            hovertemplate=f"{mode}: calibrated t={t_cal:.3f}<extra></extra>")
    fig.add_vline(x=marked, line=dict(dash="dash", color="grey"), annotation_text=f"fixed t = {marked}")
    fig.update_layout(title="mIoU (%) vs threshold", xaxis_title="threshold", yaxis_title="mIoU (%)",
                      height=380, margin=dict(l=10, r=10, t=50, b=10))
    return fig
