"""Modes on datasets with fewer classes than the paper's: adapt by a stated rule, or refuse.

The paper's settings assume VOC's 20 classes (19 others per target). On a dataset with ``C``
classes each mode is checked against what it needs:

* **Rank-a / Rank-b** (and their Contrast-* rivals): positions (3, 9, 14, 17) / (3, 8, 13, 18)
  of the similarity order. When the last position exists (``C - 1 >= 17`` / ``18``) they are
  used as they are. Otherwise every position ``p`` is **scaled** from the paper's 19 others to
  the ``C - 1`` there are: ``max(1, floor(p * (C - 1) / 19 + 0.5))`` (repeats dropped, order
  kept). MSRC-v2 (14 classes): Rank-a (2, 6, 10, 12), Rank-b (2, 5, 9, 12); with 3 classes both
  become (1, 2), every other class.
* **Random** (and Contrast-Random): draws ``min(n_random, C - 1)`` classes (with 3 classes: both
  others, the classes All uses).
* **S-k** (and Contrast-S-k): ``N`` clusters of at least ``m`` classes need ``N * m <= C``.
  When they do not fit, the **minimum size is lowered** to ``floor(C / N)`` and ``N`` kept
  (MSRC-v2 with the default N = 4, m = 4: clusters of at least 3). When ``N > C`` no clustering
  exists: the mode is **refused**. ``k > C - 1`` is refused too.
* **Top-k** (and Top-k+A): the k best of the ``C - 1`` pairs of a class; ``k > C - 1`` is
  **refused** (another k would be another mode).
* **Ref-Centre**: its width is chosen on the calibration split; without one it is **refused**.
* Baseline, Baseline+A, All, Contrast-All and Ref-Whole run on any dataset of two classes or more.

Where a view needs *some* representative classes (the app's explorer and Clustering page, the
app's warm-up) and the selection rule asked for is refused, :func:`with_fallback` shows the same
map with **Rank-a**'s classes instead (its positions scaled as above; it runs on any dataset of
two classes or more), and says why in its note. A run never falls back: it refuses.

An adapted mode keeps its name; the adaptation is one line (:attr:`Check.note`) reported with
the results. A refused mode raises :class:`ModeRefused` (one line naming why): a mode asked for
by name fails the run, a mode that came from a group (``all``, ``paper``, ...) is left out and
reported (:mod:`repcam_core.running.experiment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from repcam_core.errors import ModeRefused
from repcam_core.method.modes import Mode, parse_mode

PAPER_OTHERS = 19
"""Comparison classes per target in the paper's VOC (20 classes): the scale of Rank's positions."""
FALLBACK_RULE = "Rank-a"
"""The selection rule a view uses where the one asked for is refused (:func:`with_fallback`)."""


@dataclass(frozen=True)
class Setting:
    """What a configuration offers the modes: C and the settings the rules read."""

    num_classes: int
    n_clusters: int
    min_cluster_size: int
    n_random: int
    calibration: bool


@dataclass(frozen=True)
class Check:
    """A mode that can run, and ``note``: its adaptation in one line (the settings as run come
    from :func:`rank_positions`, :func:`random_count`, :func:`cluster_sizes`), or None when the
    paper's settings fit."""

    mode: Mode
    note: Optional[str] = None


def rank_positions(positions: tuple[int, ...], num_classes: int) -> tuple[int, ...]:
    """Rank positions as run with ``num_classes`` classes (see the module docstring)."""
    others = num_classes - 1
    if not positions or max(positions) <= others:
        return tuple(positions)
    scaled = (max(1, min(others, int(p * others / PAPER_OTHERS + 0.5))) for p in positions)
    return tuple(dict.fromkeys(scaled))


def random_count(n_random: int, num_classes: int) -> int:
    """How many classes Random draws: ``min(n_random, C - 1)``."""
    return max(1, min(n_random, num_classes - 1))


def cluster_sizes(n_clusters: int, min_size: int, num_classes: int) -> tuple[int, int]:
    """(N, minimum size) as run: the minimum lowered to ``floor(C / N)`` when ``N * m > C``.

    Raises:
        ModeRefused: when ``N > C`` (no N clusters of C classes exist)."""
    if n_clusters > num_classes:
        raise ModeRefused(f"{n_clusters} clusters need at least {n_clusters} classes; the dataset has "
                          f"{num_classes} (ask for fewer clusters)")
    if n_clusters * min_size > num_classes:
        return n_clusters, max(1, num_classes // n_clusters)
    return n_clusters, min_size


def check(mode: Mode, s: Setting) -> Check:
    """Whether ``mode`` runs with setting ``s``, and how it is adapted.

    Raises:
        ModeRefused: the mode cannot run here (the message names the mode and why)."""
    C, others = s.num_classes, s.num_classes - 1
    try:
        if mode.kind == "rank":
            positions = rank_positions(tuple(mode.positions or ()), C)
            if positions == tuple(mode.positions or ()):
                return Check(mode)
            paper = ", ".join(map(str, mode.positions or ()))
            return Check(mode, f"positions {paper} of the paper's {PAPER_OTHERS} others scaled to "
                               f"{', '.join(map(str, positions))} of the {others} others here")
        if mode.kind == "random":
            n = random_count(s.n_random, C)
            if n == s.n_random:
                return Check(mode)
            same = " (every other class: the classes All uses)" if n == others else ""
            return Check(mode, f"draws {n} classes, not n_random={s.n_random}: the dataset has {others} "
                               f"others{same}")
        if mode.kind == "cluster":
            if (mode.k or 0) > others:
                raise ModeRefused(f"k={mode.k} is out of range for {C} classes (k <= {others})")
            n, m = cluster_sizes(s.n_clusters, s.min_cluster_size, C)
            if m == s.min_cluster_size:
                return Check(mode)
            return Check(mode, f"{n} clusters of at least {s.min_cluster_size} classes need "
                               f"{n * s.min_cluster_size} classes, the dataset has {C}: minimum size lowered "
                               f"to {m} (floor({C}/{n}))")
        if mode.kind == "topk" and (mode.k or 0) > others:
            raise ModeRefused(f"Top-{mode.k} picks the {mode.k} best of a class's pairs; the dataset has "
                              f"{others} other class(es)")
        if mode.reference == "centre" and not s.calibration:
            raise ModeRefused("its width is chosen on the calibration split, and this configuration has none")
    except ModeRefused as exc:
        raise ModeRefused(f"mode {mode.name}: {exc}") from None
    return Check(mode)


def with_fallback(mode: Mode, s: Setting) -> Check:
    """``mode`` as :func:`check` adapts it; where S-k (or Contrast-S-k) is refused, the same map
    (``+A`` or not, binary or contrast) with :data:`FALLBACK_RULE`'s classes, its note saying what
    was refused and why. (Random and Rank are never refused on two classes or more.)

    Raises:
        ModeRefused: ``mode`` is refused and is no S-k (Top-k, Ref-Centre: a view shows those
            as asked or not at all), or the fallback is refused too."""
    try:
        return check(mode, s)
    except ModeRefused as exc:
        if mode.kind != "cluster":
            raise
        why = str(exc).removeprefix(f"mode {mode.name}: ")
    prefix = "Contrast-" if mode.source == "contrast" else ""
    sub = parse_mode(f"{prefix}{FALLBACK_RULE}{'+A' if mode.multilayer else ''}+F")
    done = check(sub, s)
    how = f" ({done.note})" if done.note else ""
    return Check(sub, f"{mode.name} cannot run on this dataset ({why}): representative classes by "
                      f"{FALLBACK_RULE} instead{how}")


@dataclass(frozen=True)
class ModePlan:
    """What a run evaluates: ``modes`` in order, ``adapted`` (mode -> its one-line note) and
    ``not_run`` (mode -> why, for modes that came from a group and cannot run here)."""

    modes: tuple[Mode, ...]
    adapted: dict[str, str]
    not_run: dict[str, str]


def plan_modes(modes: Sequence[Mode], s: Setting, optional: Iterable[str] = ()) -> ModePlan:
    """Check every mode; those named in ``optional`` (they came from a group) are left out when
    refused, any other refused mode raises.

    Raises:
        ModeRefused: a mode not in ``optional`` cannot run here (the first such, in order)."""
    optional = set(optional)
    kept: list[Mode] = []
    adapted: dict[str, str] = {}
    not_run: dict[str, str] = {}
    for mode in modes:
        try:
            result = check(mode, s)
        except ModeRefused as exc:
            if mode.name not in optional:
                raise
            not_run[mode.name] = str(exc).removeprefix(f"mode {mode.name}: ")
            continue
        kept.append(mode)
        if result.note:
            adapted[mode.name] = result.note
    return ModePlan(tuple(kept), adapted, not_run)
