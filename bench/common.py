"""Shared timing, table and machine helpers for the benchmark suite.

Every figure is a ratio against a reference timed in the same run: the candidates of one
comparison are run round-robin (A, B, A, B, ...) after a warm-up, and each one's median is taken,
so a burst of load from another process hits both sides alike.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence


@dataclass
class Settings:
    """How hard to measure. ``smoke`` shrinks every benchmark to a seconds-long version."""

    smoke: bool = False
    repeats: int = 5
    warmup: int = 1


@dataclass
class Report:
    """One benchmark's output: printed tables plus the figures that go into the JSON line."""

    name: str
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.tables.append((title, list(header), [list(r) for r in rows]))


def interleaved(fns: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each callable, run round-robin ``repeats`` times after ``warmup`` rounds."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median milliseconds of ``fn``."""
    return 1000 * interleaved({"f": fn}, repeats, warmup)["f"]


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        if value == 0:
            return "0"
        return f"{value:.3g}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(header)] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def machine() -> dict[str, Any]:
    """What the figures were measured on: the record every manifest carries
    (:func:`repcam_core.storage.machine.machine`: CPU, instruction set, torch, its CUDA build,
    torch threads), with the date, cores, Python, 1-min load average and the GPU, if any."""
    import torch

    from repcam_core.storage.machine import machine as record

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {"date": datetime.date.today().isoformat(), **record(), "cores": os.cpu_count(),
            "python": platform.python_version(), "load_avg_1min": round(load, 2),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def round_figures(obj: Any, digits: int = 4) -> Any:
    if isinstance(obj, float):
        if obj != obj:
            return None  # NaN -> null: strict JSON
        return float(f"{obj:.{digits}g}")  # significant digits: a 3e-6 difference stays visible
    if isinstance(obj, dict):
        return {k: round_figures(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_figures(v, digits) for v in obj]
    return obj
