"""Modes on datasets with fewer classes than the paper's: the adaptation rules, the refusals, and
which modes of a group a dataset leaves out (repcam_core.method.feasibility)."""

from __future__ import annotations

import pytest

from repcam_core.errors import ConfigError
from repcam_core.method.feasibility import (ModeRefused, Setting, check, cluster_sizes, plan_modes, random_count,
                                            rank_positions)
from repcam_core.method.modes import DEFAULT_MODES, parse_mode, parse_modes, parse_request
from repcam_core.method.selection import RANK_A, RANK_B


def _setting(C: int, calibration: bool = True) -> Setting:
    return Setting(num_classes=C, n_clusters=4, min_cluster_size=4, n_random=4, calibration=calibration)


def test_rank_positions_scale_from_the_papers_19_others():
    assert rank_positions(RANK_A, 20) == RANK_A and rank_positions(RANK_B, 19) == RANK_B  # they exist: kept
    assert rank_positions(RANK_A, 18) == RANK_A and rank_positions(RANK_B, 18) != RANK_B
    assert rank_positions(RANK_A, 14) == (2, 6, 10, 12)  # MSRC-v2: 13 others
    assert rank_positions(RANK_B, 14) == (2, 5, 9, 12)
    assert rank_positions(RANK_A, 3) == (1, 2) == rank_positions(RANK_B, 3)  # every other class
    assert rank_positions(RANK_A, 2) == (1,)


def test_random_and_cluster_sizes():
    assert random_count(4, 20) == 4 and random_count(4, 3) == 2
    assert cluster_sizes(4, 4, 20) == (4, 4) and cluster_sizes(4, 4, 14) == (4, 3) and cluster_sizes(3, 3, 6) == (3, 2)
    assert cluster_sizes(4, 4, 4) == (4, 1)
    with pytest.raises(ModeRefused, match="4 clusters need at least 4 classes; the dataset has 3"):
        cluster_sizes(4, 4, 3)


@pytest.mark.parametrize("name, C, message", [
    ("Top3", 3, "mode Top3: Top-3 picks the 3 best of a class's pairs; the dataset has 2 other class"),
    ("Top3+A", 3, "mode Top3\\+A: Top-3"),
    ("S-1+F", 3, "mode S-1\\+F: 4 clusters need at least 4 classes; the dataset has 3"),
    ("Contrast-S-1+A+F", 3, "mode Contrast-S-1\\+A\\+F: 4 clusters"),
    ("S-3+A+F", 3, "mode S-3\\+A\\+F: k=3 is out of range for 3 classes"),
    ("S-14+F", 14, "k=14 is out of range for 14 classes"),
])
def test_refusals_name_the_mode_and_why(name, C, message):
    with pytest.raises(ModeRefused, match=message):
        check(parse_mode(name), _setting(C))
    assert issubclass(ModeRefused, ConfigError)  # one CLI error line, exit 2


def test_adaptations_are_one_line_notes():
    msrc = _setting(14)
    assert check(parse_mode("Rank-a+A+F"), msrc).note == \
        "positions 3, 9, 14, 17 of the paper's 19 others scaled to 2, 6, 10, 12 of the 13 others here"
    assert check(parse_mode("S-2+F"), msrc).note == ("4 clusters of at least 4 classes need 16 classes, the "
                                                      "dataset has 14: minimum size lowered to 3 (floor(14/4))")
    assert check(parse_mode("Random+F"), msrc).note is None
    assert "every other class" in check(parse_mode("Contrast-Random+F"), _setting(3)).note
    assert all(check(parse_mode(m), _setting(20)).note is None for m in DEFAULT_MODES)  # the paper's settings fit


def test_what_three_classes_run_from_the_default_group():
    modes = parse_modes("all")
    plan = plan_modes(modes, _setting(3), [m.name for m in modes])
    ran = [m.name for m in plan.modes]
    for needed in ("Baseline", "Baseline+A", "All", "Contrast-All+F", "Contrast-All+A+F", "Top1", "Top2",
                   "Ref-Whole", "Ref-Centre", "Rank-a+F", "Random+A+F"):
        assert needed in ran
    assert set(plan.not_run) == {"Top3", "Top4", *(f"{c}S-{k}{s}" for c in ("", "Contrast-") for k in range(1, 5)
                                                  for s in ("+F", "+A+F"))}
    assert set(plan.adapted) == {f"{c}{r}{s}" for c in ("", "Contrast-") for r in ("Random", "Rank-a", "Rank-b")
                                 for s in ("+F", "+A+F")}
    with pytest.raises(ModeRefused, match="mode Top3"):  # named, not from a group: the run fails
        plan_modes([parse_mode("Baseline"), parse_mode("Top3")], _setting(3), ["Baseline"])
    no_calib = plan_modes(parse_modes("reference"), _setting(3, calibration=False), ["Ref-Whole", "Ref-Centre"])
    assert [m.name for m in no_calib.modes] == ["Ref-Whole"] and "calibration split" in no_calib.not_run["Ref-Centre"]


def test_a_group_is_its_lower_case_name_and_the_mode_all_is_not_the_group():
    modes, named = parse_request("all,Top3")
    assert len(modes) == len(DEFAULT_MODES) and named == {"Top3"}
    assert [m.name for m in parse_modes("Baseline,All")] == ["Baseline", "All"]  # was every mode
    modes, named = parse_request("Baseline,All")
    assert [m.name for m in modes] == ["Baseline", "All"] and named == {"Baseline", "All"}
    assert [m.name for m in parse_modes("reference")] == ["Ref-Whole", "Ref-Centre"]
    assert parse_mode("ref-center").name == "Ref-Centre" and not parse_mode("Ref-Whole").needs_model


def test_views_fall_back_to_rank_a_where_s_k_is_refused():
    """What the app's explorer, Clustering page and warm-up show on a dataset that refuses S-k."""
    from repcam_core.method.feasibility import with_fallback

    three = with_fallback(parse_mode("S-1+A+F"), _setting(3))
    assert three.mode == parse_mode("Rank-a+A+F")
    assert three.note == ("S-1+A+F cannot run on this dataset (4 clusters need at least 4 classes; the dataset has 3 "
                          "(ask for fewer clusters)): representative classes by Rank-a instead (positions 3, 9, 14, 17 of "
                          "the paper's 19 others scaled to 1, 2 of the 2 others here)")
    assert with_fallback(parse_mode("Contrast-S-2+F"), _setting(3)).mode == parse_mode("Contrast-Rank-a+F")
    assert with_fallback(parse_mode("S-4+A+F"), _setting(4)).mode.name == "Rank-a+A+F"  # k > C - 1
    # where S-k runs it is kept, with its adaptation note when it has one
    fits = with_fallback(parse_mode("S-1+A+F"), _setting(14))
    assert fits.mode == parse_mode("S-1+A+F") and "minimum size lowered to 3" in fits.note
    assert with_fallback(parse_mode("S-1+A+F"), _setting(20)) == check(parse_mode("S-1+A+F"), _setting(20))
    with pytest.raises(ModeRefused, match="mode Top3: "):  # no selection rule: refused as asked
        with_fallback(parse_mode("Top3"), _setting(3))
