"""Static exports for the pages: charts, tables and the paper's figures as PNG/PDF bytes, all drawn
by the core's matplotlib code (:mod:`repcam_core.figures`), so no browser or kaleido is needed.

Pages prepare bytes on an explicit click, keep them in session state with what they were made
from, and offer them with :func:`downloads`; nothing here runs a model.
"""

from __future__ import annotations

from typing import Any, Sequence

import streamlit as st

from repcam_core.figures import charts, render


def png(fig: Any, dpi: int = 200) -> bytes:
    """A matplotlib figure as PNG bytes."""
    return render.render(fig, "png", dpi)


@st.cache_data(show_spinner=False, max_entries=32)
def table_png(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> bytes:
    """A table as a PNG image (matplotlib); cached, so a page rerun does not draw it again."""
    return png(charts.table_figure(header, rows, title))


def figure_files(fig: Any, dpi: int = render.DEFAULT_DPI) -> dict[str, bytes]:
    """One figure as ``{"pdf": bytes, "png": bytes}``."""
    return {"pdf": render.render(fig, "pdf", dpi), "png": render.render(fig, "png", dpi)}


MIME = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml", "csv": "text/csv"}


def downloads(files: dict[str, bytes], stem: str, keys: dict[str, str], container: Any = st) -> None:
    """One download button per format of ``files`` (``keys[fmt]`` is the widget key)."""
    cols = container.columns(len(files))
    for col, (fmt, data) in zip(cols, files.items()):
        col.download_button(f"{stem}.{fmt}", data, f"{stem}.{fmt}", MIME.get(fmt, "application/octet-stream"),
                            key=keys[fmt])
