"""One rounding rule for every percentage RepCAM shows or writes (CLI text, JSON, CSV, the app).

Figures are computed as fractions (an IoU in [0, 1], a difference of two) from unrounded values
and rounded once, here, when they are shown or written: ``pct(fraction)`` is ``100 * fraction``
rounded to :data:`DECIMALS` decimals by Python's ``round`` (correctly rounded from the binary
value, ties to even). A mean or standard deviation over seeds is taken over the unrounded
fractions and then rounded once (:func:`mean_sd`), never averaged from rounded figures: the
mean of rounded figures and the rounded mean disagree in the last digit (24.41 against 24.42),
and which one a computation gives depended on the machine's float rounding. Text shows the
rounded value with exactly :data:`DECIMALS` decimals (:func:`fmt`), so a table and its JSON
always show the same digits. Charts that label small cells may ask for fewer decimals; they
still round the unrounded value once.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

DECIMALS = 2
"""Decimals of every percentage shown or written (points of mIoU, IoU, differences)."""


def pct(fraction: Any, decimals: int = DECIMALS) -> float | None:
    """``fraction`` in percent, rounded once; None for None, NaN or infinity (JSON-safe)."""
    if fraction is None:
        return None
    value = float(fraction)
    return round(100.0 * value, decimals) + 0.0 if math.isfinite(value) else None  # + 0.0: no "-0.00"


def points(value: Any, decimals: int = DECIMALS) -> float | None:
    """A value already in percent points (a published figure, or the difference between a
    published figure and one of ours as both are shown) rounded by the same rule."""
    if value is None:
        return None
    value = float(value)
    return round(value, decimals) + 0.0 if math.isfinite(value) else None


def mean_sd(fractions: Iterable[Any]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof 1) of the finite ``fractions``, in percent, each
    rounded once; (None, None) when none is finite, sd 0.0 for a single value."""
    ok = [float(v) for v in fractions if v is not None and math.isfinite(float(v))]
    if not ok:
        return None, None
    mean = math.fsum(ok) / len(ok)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in ok) / (len(ok) - 1)) if len(ok) > 1 else 0.0
    return pct(mean), pct(sd)


def fmt(value: Any, signed: bool = False, missing: str = "n/a", decimals: int = DECIMALS) -> str:
    """A rounded percentage (from :func:`pct` or :func:`points`) as text with ``decimals``
    decimals; ``missing`` for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return f"{float(value):+.{decimals}f}" if signed else f"{float(value):.{decimals}f}"


def pct_fmt(fraction: Any, signed: bool = False, missing: str = "n/a", decimals: int = DECIMALS) -> str:
    """``fmt(pct(fraction))``: a fraction shown as a percentage, rounded once."""
    return fmt(pct(fraction, decimals), signed, missing, decimals)


def fraction_fmt(fraction: Any, missing: str = "") -> str:
    """The same rounded figure written as a fraction (the paper's Table 1 prints 0.3397 for
    33.97 %): ``pct(fraction) / 100`` with ``DECIMALS + 2`` decimals."""
    value = pct(fraction)
    return missing if value is None else f"{value / 100:.{DECIMALS + 2}f}"
