"""Saving matplotlib figures: the house style, vector text, and one-line errors for bad paths.

``pdf.fonttype``/``ps.fonttype`` 42 embed the font as TrueType (text stays text, searchable and
editable in a paper's PDF); ``svg.fonttype = "none"`` writes ``<text>`` elements instead of
glyph outlines. The style is applied with :func:`styled` around building *and* saving, since
matplotlib reads font sizes when text is created.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Iterator

from repcam_core.errors import ConfigError
from repcam_core.figures import DEFAULT_DPI, FORMATS, WIDTHS
from repcam_core.storage.cache import write_bytes_atomic

STYLE: dict[str, Any] = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "repcam",  # stable element ids: the same figure gives the same SVG
    "font.family": "DejaVu Sans",
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "axes.linewidth": 0.6,
    "image.interpolation": "nearest",
}
_METADATA = {"pdf": {"Creator": "repcam", "CreationDate": None}, "svg": {"Creator": "repcam", "Date": None},
             "png": {"Software": "repcam"}}


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """The figure style for the duration of the block (restored afterwards, exceptions included)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def figure_width(width: str | float) -> float:
    """Inches for ``"single"``, ``"double"`` or a number of inches."""
    if isinstance(width, str) and width in WIDTHS:
        return WIDTHS[width]
    try:
        inches = float(width)
    except (TypeError, ValueError):
        raise ConfigError(f"unknown figure width {width!r}; use single, double or inches") from None
    if not 1.0 <= inches <= 20.0:
        raise ConfigError(f"figure width must be between 1 and 20 inches, got {inches}")
    return inches


def figure_format(path: str | Path) -> str:
    """The format named by ``path``'s extension; ConfigError for anything but .pdf, .png, .svg."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ConfigError(f"unsupported figure format {Path(path).suffix or '(no extension)'!r} for {path}; "
                          f"use {', '.join('.' + f for f in FORMATS)}")
    return ext


def render(fig: Any, fmt: str, dpi: int = DEFAULT_DPI) -> bytes:
    """``fig`` (a ``matplotlib.figure.Figure``) as the bytes of a PDF, PNG or SVG file.

    The page is exactly the figure's size (no tight bounding box), so a PNG is
    ``width x dpi`` pixels wide."""
    if fmt not in FORMATS:
        raise ConfigError(f"unsupported figure format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if not 10 <= dpi <= 2400:
        raise ConfigError(f"dpi must be between 10 and 2400, got {dpi}")
    buf = io.BytesIO()
    with styled():
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    return buf.getvalue()


def save(fig: Any, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Write ``fig`` to ``path`` (format from the extension) atomically: a crash never leaves a
    half-written file under ``path``. Returns the path."""
    path = Path(path)
    write_bytes_atomic(path, render(fig, figure_format(path), dpi))
    return path
