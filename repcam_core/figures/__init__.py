"""Figures for papers, drawn with matplotlib: the paper's CAM figures (:mod:`.paper`) and the
app's charts and tables as static images (:mod:`.charts`), saved by :mod:`.render`.

Importing this package is cheap: matplotlib loads only when a figure is drawn. Figures are
``matplotlib.figure.Figure`` objects (no pyplot, no global state); the style (fonts embedded as
vector text in PDF/SVG, small print sizes) is applied with ``matplotlib.rc_context`` around
drawing and saving, never globally.
"""

from __future__ import annotations

WIDTHS: dict[str, float] = {"single": 3.5, "double": 7.16}
"""Figure widths in inches: one column and the full page width of a two-column paper."""

FORMATS: tuple[str, ...] = ("pdf", "png", "svg")
"""File formats a figure can be saved in (by file extension)."""

DEFAULT_DPI = 300
"""Resolution of PNG output (and of the raster images inside PDF/SVG)."""

DEFAULT_MODES = ("S-1+A+F",)
"""The modes a figure shows unless told: the first one's representative classes fill the columns."""
DEFAULT_IMAGES = 3
"""How many of the class's evaluation images a figure shows unless told."""
