"""Ablation mode names (Tables 1-4): parsing, canonical names and comparison-class dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from repcam_core.errors import ConfigError, UnknownNameError
from repcam_core.method.modes import PAPER_MODES, Mode, comparison_classes, parse_mode, parse_modes
from repcam_core.method.selection import RANK_A, RANK_B, select_random


def test_paper_modes_follow_the_tables():
    assert PAPER_MODES[:7] == (
        "Baseline", "Random+F", "Random+A+F", "Rank-a+F", "Rank-a+A+F", "Rank-b+F", "Rank-b+A+F"
    )
    assert PAPER_MODES[7:15] == (
        "S-1+F", "S-1+A+F", "S-2+F", "S-2+A+F", "S-3+F", "S-3+A+F", "S-4+F", "S-4+A+F"
    )
    assert PAPER_MODES[15:] == ("Top1", "Top2", "Top3", "Top4", "All")


@pytest.mark.parametrize("name", PAPER_MODES)
def test_every_paper_mode_round_trips_in_any_case(name):
    assert parse_mode(name).name == name
    assert parse_mode(name.lower()).name == name
    assert parse_mode(name.upper()).name == name


@pytest.mark.parametrize(
    "text, expected",
    [
        ("baseline", Mode("Baseline", "baseline")),
        ("random + a + f", Mode("Random+A+F", "random", multilayer=True, fused=True)),
        ("RANK-B+F", Mode("Rank-b+F", "rank", positions=RANK_B, fused=True)),
        ("rank-a+a+f", Mode("Rank-a+A+F", "rank", positions=RANK_A, multilayer=True, fused=True)),
        ("s-2+a+f", Mode("S-2+A+F", "cluster", k=2, multilayer=True, fused=True)),
        ("S-12+F", Mode("S-12+F", "cluster", k=12, fused=True)),
        ("top3+a", Mode("Top3+A", "topk", k=3, multilayer=True, fused=True)),
        ("TOP1", Mode("Top1", "topk", k=1, fused=True)),
        ("all+a", Mode("All+A", "all", multilayer=True, fused=True)),
    ],
)
def test_parse_fills_the_fields(text, expected):
    assert parse_mode(text) == expected


@pytest.mark.parametrize(
    "bad", ["S1+F", "S-0+F", "Top0", "Rank-c+F", "Random", "S-2", "Baseline+F", "", "Top-3"]
)
def test_unknown_names_list_the_valid_forms(bad):
    with pytest.raises(UnknownNameError, match=r"unknown mode .*; valid: Baseline, Baseline\+A, Random\+F"):
        parse_mode(bad)


def test_unknown_name_is_also_a_key_error():
    with pytest.raises(KeyError):
        parse_mode("nonsense")


def test_parse_modes_dedups_and_keeps_order():
    modes = parse_modes("S-1+F, top2 ,s-1+f,Baseline")
    assert [m.name for m in modes] == ["S-1+F", "Top2", "Baseline"]


@pytest.mark.parametrize("text", ["", " , ,"])
def test_parse_modes_rejects_empty_input(text):
    with pytest.raises(ConfigError, match="no mode given"):
        parse_modes(text)


def test_needs_flags():
    assert parse_mode("Top2").needs_pairwise and parse_mode("All").needs_pairwise
    assert not parse_mode("S-1+F").needs_pairwise
    assert parse_mode("S-3+A+F").needs_clustering
    assert not parse_mode("Rank-a+F").needs_clustering


def test_baseline_compares_with_nothing():
    assert comparison_classes(parse_mode("Baseline"), 0, num_classes=20) == []


def test_dispatch_reaches_each_selector():
    C = 6
    B = np.zeros((C, C))
    B[0] = [0.0, 0.1, 0.5, 0.3, 0.4, 0.2]  # order of 0: 2, 4, 3, 5, 1
    labels = np.array([0, 0, 0, 1, 1, 1])  # candidates: {1, 2} and {3, 4, 5}
    pairwise = np.full((C, C), np.nan)
    pairwise[0, 1:] = [0.9, 0.1, 0.2, 0.3, 0.8]
    kw = dict(B=B, cluster_labels=labels, pairwise=pairwise)

    assert comparison_classes(parse_mode("S-1+F"), 0, **kw) == [2, 4]
    assert comparison_classes(parse_mode("S-2+A+F"), 0, **kw) == [1, 3]
    assert comparison_classes(parse_mode("Top2"), 0, **kw) == [1, 5]
    assert comparison_classes(parse_mode("All"), 0, **kw) == [1, 2, 3, 4, 5]
    assert comparison_classes(parse_mode("Random+F"), 0, n=3, seed=4, **kw) == select_random(
        C, 0, 3, 4
    )


def test_rank_dispatch_uses_the_positions():
    B = np.zeros((20, 20))
    B[0, 1:] = np.arange(19, 0, -1)  # order of 0 is 1, 2, ..., 19
    assert comparison_classes(parse_mode("Rank-a+F"), 0, B=B) == [3, 9, 14, 17]
    assert comparison_classes(parse_mode("Rank-b+A+F"), 0, B=B) == [3, 8, 13, 18]


@pytest.mark.parametrize(
    "name, given, missing",
    [
        ("Top2", {"B": np.zeros((4, 4))}, "pairwise"),
        ("S-1+F", {"B": np.zeros((4, 4))}, "cluster_labels"),
        ("Rank-a+F", {}, "similarity matrix"),
        ("All", {}, "num_classes"),
    ],
)
def test_missing_input_is_named(name, given, missing):
    with pytest.raises(ConfigError, match=missing):
        comparison_classes(parse_mode(name), 0, **given)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("baseline+a", Mode("Baseline+A", "baseline", multilayer=True)),
        ("contrast-s-2+a+f", Mode("Contrast-S-2+A+F", "cluster", k=2, multilayer=True, fused=True, source="contrast")),
        ("Contrast-Rank-b+F", Mode("Contrast-Rank-b+F", "rank", positions=RANK_B, fused=True, source="contrast")),
        ("CONTRAST-RANDOM+F", Mode("Contrast-Random+F", "random", fused=True, source="contrast")),
        ("contrast-all+a+f", Mode("Contrast-All+A+F", "all", multilayer=True, fused=True, source="contrast")),
    ],
)
def test_ablation_modes_parse_with_their_map_source(text, expected):
    mode = parse_mode(text)
    assert mode == expected
    assert mode.needs_binary is (mode.fused and mode.source == "binary")


@pytest.mark.parametrize("bad", ["Contrast-All", "Contrast-All+A", "Contrast-Top1+F", "Contrast-Baseline",
                                 "Contrast-S-0+F", "contrast-", "Baseline+A+F"])
def test_contrast_forms_outside_the_grammar_are_rejected(bad):
    with pytest.raises(UnknownNameError, match="Contrast-<sel>"):
        parse_mode(bad)


def test_mode_groups_expand_in_order_without_duplicates():
    from repcam_core.method.modes import ABLATION_MODES, DEFAULT_MODES

    assert [m.name for m in parse_modes("paper")] == list(PAPER_MODES)
    assert [m.name for m in parse_modes("ablation,Baseline+A")] == list(ABLATION_MODES)
    assert [m.name for m in parse_modes("Top1,all")] == ["Top1", *[n for n in DEFAULT_MODES if n != "Top1"]]
    every = [parse_mode(n) for n in ABLATION_MODES]
    assert {m.kind for m in every if m.source == "contrast"} == {"random", "rank", "cluster", "all"}
    assert not any(m.needs_binary for m in every)
