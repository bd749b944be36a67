"""The operator's dataset list: labels instead of paths, exact-match refusal without echoing the
path, and server paths outside the listed directories hidden in messages."""

from __future__ import annotations

import pytest

from repcam_app.datasets import (HIDDEN, DatasetChoice, allowed_dirs, check_allowed, dataset_choices,
                                 entries_from_file, parse_entry, redact)
from repcam_core.errors import ConfigError, DatasetError


def test_entries_get_names_not_paths():
    assert parse_entry("/srv/data/VOC2012") == DatasetChoice("VOC2012", "/srv/data/VOC2012")
    assert parse_entry("voc:/srv/data/VOC2012/") == DatasetChoice("VOC2012", "voc:/srv/data/VOC2012/")
    assert parse_entry("coco:/srv/coco") == DatasetChoice("coco (COCO)", "coco:/srv/coco")
    assert parse_entry("pets:/srv/oxford-pet-3") == DatasetChoice("oxford-pet-3 (Oxford-IIIT Pet)",
                                                                 "pets:/srv/oxford-pet-3")
    assert parse_entry("Pets=pets:/srv/pets") == DatasetChoice("Pets", "pets:/srv/pets")
    assert parse_entry("Lab VOC=voc:/srv/x") == DatasetChoice("Lab VOC", "voc:/srv/x")
    assert parse_entry("/srv/a=b") == DatasetChoice("a=b", "/srv/a=b")  # '=' inside a path is no name


def test_choices_start_with_embedded_and_are_unique():
    choices = dataset_choices("/srv/one/VOC", ["/srv/two/VOC", "/srv/one/VOC", "embedded"])
    assert [c.spec for c in choices] == ["embedded", "/srv/one/VOC", "/srv/two/VOC"]
    assert [c.label for c in choices][1:] == ["VOC", "VOC (2)"]
    both = dataset_choices("embedded", ["voc:/srv/d/photos", "pets:/srv/d/photos"])  # one directory, two readers
    assert [c.label for c in both][1:] == ["photos", "photos (Oxford-IIIT Pet)"]


def test_file_key_takes_a_list_or_names():
    assert entries_from_file(["/a", "coco:/b"]) == ["/a", "coco:/b"]
    assert entries_from_file({"A": "/a"}) == ["A=/a"]
    with pytest.raises(ConfigError, match="data_roots"):
        entries_from_file("/a")


@pytest.mark.parametrize("spec", ["/etc", "../../", "/srv/VOC/../../etc", "voc:/etc", "/srv/VOC/"])
def test_unlisted_dataset_is_refused_without_echoing_it(spec):
    choices = dataset_choices("embedded", ["/srv/VOC"])
    with pytest.raises(DatasetError, match="not on this server's list") as err:
        check_allowed(spec, choices)
    assert spec not in str(err.value) and "/srv" not in str(err.value)
    assert "VOC" in str(err.value)  # names what may be chosen
    check_allowed("/srv/VOC", choices)
    check_allowed("embedded", choices)


def test_redact_hides_paths_outside_the_listed_directories(tmp_path):
    root = tmp_path / "VOC"
    dirs = allowed_dirs(dataset_choices("embedded", [str(root)]))
    inside = f"skipping {root}/JPEGImages/x.jpg: truncated"
    assert redact(inside, dirs) == inside
    text = (f"not a VOC-layout dataset: /etc is missing JPEGImages/; see '/home/op/.cache/repcam/x.json'. "
            f"Also {root}/../../secret and ~/notes, 3/15 done, 1 / 2")
    out = redact(text, dirs)
    assert "/etc" not in out and "/home/op" not in out and "secret" not in out and "~/notes" not in out
    assert out.count(HIDDEN) == 4
    assert "3/15 done, 1 / 2" in out and "missing JPEGImages/;" in out
    assert f"'{HIDDEN}'." in out  # quotes and the full stop stay around the hidden path
