"""The paper's ablation modes (Tables 1-4) by name, and which comparison classes each uses.

Name grammar (case-insensitive, spaces ignored; canonical spelling on output):

* ``Baseline`` — Grad-CAM of the multi-class model, no comparison classes;
* ``Baseline+A`` — the multi-layer map of the multi-class model (isolates step A: no binary model);
* ``Random+F`` / ``Random+A+F`` — random representative classes, fused (F);
* ``Rank-a+F`` / ``Rank-b+F`` (``+A+F``) — fixed positions of the similarity order;
* ``S-k+F`` / ``S-k+A+F`` (k >= 1) — the k-th most similar class of every cluster;
* ``Topk`` / ``Topk+A`` (k >= 1) — oracle: the k best pairs by measured mIoU (Table 1);
* ``All`` / ``All+A`` — every other class (Table 1);
* ``Contrast-<sel>+F`` / ``Contrast-<sel>+A+F`` (``<sel>`` = Random, Rank-a, Rank-b, S-k, All) —
  the training-free rival: the same comparison classes, but instead of a binary model per class
  the multi-class model's Grad-CAM of ``logit_c - logit_j`` (the idea of Finer-CAM), fused as F
  fuses. Against ``<sel>+F`` it isolates what training the binary models adds;
* ``Ref-Whole`` / ``Ref-Centre`` (``Ref-Center`` too) — reference maps that need no model: the
  whole image, and a centred Gaussian whose width is chosen on the calibration split
  (:mod:`repcam_core.evaluation.reference`). A CAM mode is only worth reporting against them.

Groups: ``paper`` (Tables 1-4), ``ablation`` (Baseline+A and the Contrast-* rivals),
``reference`` (the two reference maps) and ``all`` (all three, the default). A group is named in
lower case exactly as written here; any other spelling is a mode name (``All`` is the mode that
fuses every other class, ``all`` the group). Modes a dataset cannot run
(:mod:`repcam_core.method.feasibility`) are left out of a group and reported; asked for by name
they are an error.

``+A`` means the multi-layer CAM (sec. 3.2). Every mode except Baseline averages the CAMs of
several binary models, i.e. uses the fusion step F (sec. 3.3), so ``fused`` is True for Topk and
All too even though Table 1 does not write "+F".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Optional

import numpy as np

from repcam_core.errors import ConfigError, UnknownNameError
from repcam_core.method import selection

ModeKind = Literal["baseline", "random", "rank", "cluster", "topk", "all", "reference"]
Reference = Literal["whole", "centre"]
MapSource = Literal["binary", "contrast"]

_RANKS: dict[str, tuple[int, ...]] = {"a": selection.RANK_A, "b": selection.RANK_B}
VALID_FORMS = (
    "Baseline, Baseline+A, Random+F, Random+A+F, Rank-a+F, Rank-a+A+F, Rank-b+F, Rank-b+A+F, "
    "S-k+F, S-k+A+F, Topk, Topk+A (k >= 1, e.g. S-2+F, Top3), All, All+A, and Contrast-<sel>+F, "
    "Contrast-<sel>+A+F for <sel> = Random, Rank-a, Rank-b, S-k, All, the reference maps Ref-Whole, "
    "Ref-Centre; or the groups paper, ablation, reference, all"
)


@dataclass(frozen=True)
class Mode:
    """One parsed ablation mode.

    Attributes:
        name: canonical name, e.g. ``"S-2+A+F"``.
        kind: which selection rule picks the comparison classes.
        k: S-k's k or Top-k's k; None for other kinds.
        positions: 1-based rank positions for ``kind == "rank"``; None otherwise.
        multilayer: uses the multi-layer CAM ("+A").
        fused: averages the CAMs of several comparison classes (step F).
        source: where each comparison class's map comes from: the binary model of the pair
            (the paper) or the multi-class model's contrast ``logit_c - logit_j`` (no training).
        reference: for ``kind == "reference"``, which model-free map: "whole" or "centre".
    """

    name: str
    kind: ModeKind
    k: Optional[int] = None
    positions: Optional[tuple[int, ...]] = None
    multilayer: bool = False
    fused: bool = False
    source: MapSource = "binary"
    reference: Optional[Reference] = None

    @property
    def needs_model(self) -> bool:
        """False for the reference maps, which read no model (nor B, clusters or pairs)."""
        return self.kind != "reference"

    @property
    def needs_binary(self) -> bool:
        """True when the mode reads binary pair models (every fused mode but the contrast ones)."""
        return self.fused and self.source == "binary"

    @property
    def needs_pairwise(self) -> bool:
        """True when every class pair's binary model is needed (Top-k and All)."""
        return self.kind in ("topk", "all")

    @property
    def needs_clustering(self) -> bool:
        """True when the mode selects from the improved k-means clusters (S-k)."""
        return self.kind == "cluster"

    @property
    def needs_similarity(self) -> bool:
        """True when the mode reads the similarity matrix B (Rank and S-k)."""
        return self.kind in ("rank", "cluster")

    def __str__(self) -> str:
        return self.name


def _suffix(multilayer: bool, fused: bool) -> str:
    return ("+A" if multilayer else "") + ("+F" if fused else "")


def _baseline(m: re.Match[str]) -> Mode:
    a = m["a"] is not None
    return Mode("Baseline" + ("+A" if a else ""), "baseline", multilayer=a)


def _random(m: re.Match[str]) -> Mode:
    a = m["a"] is not None
    return Mode("Random" + _suffix(a, True), "random", multilayer=a, fused=True)


def _rank(m: re.Match[str]) -> Mode:
    a, which = m["a"] is not None, m["which"].lower()
    return Mode(f"Rank-{which}" + _suffix(a, True), "rank", positions=_RANKS[which],
                multilayer=a, fused=True)


def _cluster(m: re.Match[str]) -> Optional[Mode]:
    a, k = m["a"] is not None, int(m["k"])
    if k < 1:
        return None
    return Mode(f"S-{k}" + _suffix(a, True), "cluster", k=k, multilayer=a, fused=True)


def _topk(m: re.Match[str]) -> Optional[Mode]:
    a, k = m["a"] is not None, int(m["k"])
    if k < 1:
        return None
    return Mode(f"Top{k}" + _suffix(a, False), "topk", k=k, multilayer=a, fused=True)


def _all(m: re.Match[str]) -> Mode:
    a = m["a"] is not None
    return Mode("All" + _suffix(a, False), "all", multilayer=a, fused=True)


def _reference(m: re.Match[str]) -> Mode:
    which = "whole" if m["which"] == "whole" else "centre"
    return Mode(f"Ref-{which.capitalize()}", "reference", reference=which)


# Each name form: a full-match pattern (on the lower-cased, space-free name) and its builder.
_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Optional[Mode]]], ...] = (
    (re.compile(r"baseline(?P<a>\+a)?"), _baseline),
    (re.compile(r"random(?P<a>\+a)?\+f"), _random),
    (re.compile(r"rank-(?P<which>[ab])(?P<a>\+a)?\+f"), _rank),
    (re.compile(r"s-(?P<k>\d+)(?P<a>\+a)?\+f"), _cluster),
    (re.compile(r"top(?P<k>\d+)(?P<a>\+a)?"), _topk),
    (re.compile(r"all(?P<a>\+a)?"), _all),
    (re.compile(r"ref-(?P<which>whole|centre|center)"), _reference),
)


_CONTRAST = re.compile(r"contrast-(?P<sel>random|rank-[ab]|s-\d+|all)(?P<a>\+a)?\+f")


def parse_mode(name: str) -> Mode:
    """Parse one mode name (case-insensitive) into a :class:`Mode` with its canonical name.

    Raises:
        UnknownNameError: for a name matching none of the forms; the message lists them.
    """
    key = re.sub(r"\s+", "", str(name)).lower()
    match = _CONTRAST.fullmatch(key)
    if match is not None:  # the selection rule's own mode, its maps taken from contrasts instead
        a = match["a"] or ""
        base = _parse_plain(match["sel"] + (a if match["sel"] == "all" else a + "+f"))
        if base is not None:
            return replace(base, name=f"Contrast-{base.name.split('+')[0]}{_suffix(base.multilayer, True)}",
                           source="contrast")
    mode = None if key.startswith("contrast-") else _parse_plain(key)
    if mode is None:
        raise UnknownNameError(f"unknown mode {name!r}; valid: {VALID_FORMS}")
    return mode


def _parse_plain(key: str) -> Optional[Mode]:
    for pattern, build in _FORMS:
        match = pattern.fullmatch(key)
        if match is not None:
            return build(match)
    return None


def parse_modes(text: str) -> list[Mode]:
    """Parse comma-separated mode names and groups (CLI input), dropping duplicates, keeping order.

    Raises:
        ConfigError: when no mode is given. UnknownNameError: for an unknown name.
    """
    return parse_request(text)[0]


def parse_request(text: str) -> tuple[list[Mode], frozenset[str]]:
    """:func:`parse_modes`, and the canonical names given by name rather than only through a
    group (``--modes all,Top3``: Top3). A group is its lower-case name exactly (``all``; ``All``
    is the mode)."""
    modes: dict[str, Mode] = {}
    named: set[str] = set()
    for piece in str(text).split(","):
        group = MODE_GROUPS.get(piece.strip())
        for name in (group if group is not None else [piece] if piece.strip() else []):
            mode = parse_mode(name)
            modes.setdefault(mode.name, mode)
            if group is None:
                named.add(mode.name)
    if not modes:
        raise ConfigError(f"no mode given; valid: {VALID_FORMS}")
    return list(modes.values()), frozenset(named)


PAPER_MODES: tuple[str, ...] = (
    "Baseline",
    "Random+F", "Random+A+F",
    "Rank-a+F", "Rank-a+A+F",
    "Rank-b+F", "Rank-b+A+F",
    *(name for k in range(1, 5) for name in (f"S-{k}+F", f"S-{k}+A+F")),
    *(f"Top{k}" for k in range(1, 5)),
    "All",
)
"""The modes of the paper's Tables 1-4."""

ABLATION_MODES: tuple[str, ...] = (
    "Baseline+A",
    *(f"Contrast-{sel}{suffix}" for sel in ("Random", "Rank-a", "Rank-b", "S-1", "S-2", "S-3", "S-4", "All")
      for suffix in ("+F", "+A+F")),
)
"""Modes that isolate one step each: A without binary models (Baseline+A) and the training-free
rivals of every selection rule (Contrast-*)."""

REFERENCE_MODES: tuple[str, ...] = ("Ref-Whole", "Ref-Centre")
"""Maps that need no model: the whole image and a centred prior (:mod:`repcam_core.evaluation.reference`)."""

DEFAULT_MODES: tuple[str, ...] = (*PAPER_MODES, *ABLATION_MODES, *REFERENCE_MODES)
"""What ``repcam run`` evaluates by default: the paper's modes, the ablations beside them and the
reference maps."""

MODE_GROUPS: dict[str, tuple[str, ...]] = {
    "paper": PAPER_MODES,
    "ablation": ABLATION_MODES,
    "reference": REFERENCE_MODES,
    "all": DEFAULT_MODES,
}
"""Names that stand for several modes in a comma-separated list (``--modes paper,Top1+A``)."""


@dataclass(frozen=True)
class _Inputs:
    """What :func:`comparison_classes` was given; ``need`` names what a mode lacks."""

    mode: Mode
    B: Optional[np.ndarray]
    cluster_labels: Optional[np.ndarray]
    pairwise: Optional[np.ndarray]
    num_classes: Optional[int]
    n: int
    seed: int

    def need(self, field: str, what: str) -> Any:
        value = getattr(self, field)
        if value is None:
            raise ConfigError(f"mode {self.mode.name!r} needs {what} ({field}=...), not given")
        return value

    def classes(self) -> int:
        if self.num_classes is not None:
            return int(self.num_classes)
        for arr in (self.B, self.pairwise, self.cluster_labels):
            if arr is not None:
                return int(np.asarray(arr).shape[0])
        return self.need("num_classes", "the number of classes")


_SELECTORS: dict[str, Callable[[_Inputs, int], list[int]]] = {
    "baseline": lambda x, c: [],
    "random": lambda x, c: selection.select_random(x.classes(), c, x.n, x.seed),
    "rank": lambda x, c: selection.select_rank(
        x.need("B", "the similarity matrix"), c, x.mode.positions or ()),
    "cluster": lambda x, c: selection.select_cluster(
        x.need("B", "the similarity matrix"),
        x.need("cluster_labels", "the clustering of the classes"), c, int(x.mode.k or 0)),
    "topk": lambda x, c: selection.select_topk(
        x.need("pairwise", "the pairwise mIoU matrix of every binary model"), c,
        int(x.mode.k or 0)),
    "all": lambda x, c: selection.select_all(x.classes(), c),
    "reference": lambda x, c: [],
}


def comparison_classes(
    mode: Mode,
    c: int,
    *,
    B: Optional[np.ndarray] = None,
    cluster_labels: Optional[np.ndarray] = None,
    pairwise: Optional[np.ndarray] = None,
    num_classes: Optional[int] = None,
    n: int = 4,
    seed: int = 0,
) -> list[int]:
    """The representative classes ``mode`` uses for target class ``c`` (never ``c`` itself).

    Args:
        mode: a parsed :class:`Mode`.
        c: target class index.
        B: ``[C, C]`` similarity matrix (Rank, S-k).
        cluster_labels: ``[C]`` cluster ids (S-k).
        pairwise: ``[C, C]`` per-pair mIoU, NaN diagonal (Top-k).
        num_classes: C; inferred from whichever array is given when None (Random, All).
        n: how many classes Random draws (the paper uses 4, one per cluster).
        seed: Random's seed.

    Raises:
        ConfigError: when an input the mode needs is missing, or a selector rejects it.
    """
    inputs = _Inputs(mode, B, cluster_labels, pairwise, num_classes, n, seed)
    return _SELECTORS[mode.kind](inputs, c)
