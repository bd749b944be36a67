"""The generated world: determinism, layout, mask values, the paper's premise, writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repcam_core.data import world_draw
from repcam_core.data.voc import VOCDataset
from repcam_core.data.world import WorldConfig, class_names, default_world_dir, render_sample, rle_encode, split_plan, write_coco
from repcam_core.data.world_files import ensure_default_world, generate_world
from repcam_core.errors import ConfigError, DatasetError

SMALL = WorldConfig(n_families=3, classes_per_family=2, train_per_class=4, val_per_class=2,
                    multi_object_fraction=0.5)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_world(tmp_path_factory.mktemp("w") / "world", SMALL)


def _all_masks(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "SegmentationClass").glob("*.png"))}


def test_same_seed_gives_identical_bytes(small_world: Path, tmp_path: Path) -> None:
    again = generate_world(tmp_path / "again", SMALL)
    assert _all_masks(again) == _all_masks(small_world)
    for name in ("train.txt", "val.txt"):
        split_file = Path("ImageSets/Segmentation") / name
        assert (again / split_file).read_text() == (small_world / split_file).read_text()
    jpgs = sorted((small_world / "JPEGImages").glob("*.jpg"))
    assert all((again / "JPEGImages" / p.name).read_bytes() == p.read_bytes() for p in jpgs)


def test_different_seed_gives_different_masks(small_world: Path, tmp_path: Path) -> None:
    other = generate_world(tmp_path / "other", WorldConfig(**{**SMALL.to_dict(), "seed": 1}))
    assert _all_masks(other) != _all_masks(small_world)


def test_layout_loads_with_voc_reader_and_classes_in_label_order(small_world: Path) -> None:
    ds = VOCDataset(small_world)
    assert ds.class_names == class_names(SMALL) == ("bus", "car", "cat", "dog", "chair", "sofa")
    assert ds.splits() == ["calib", "train", "val"]
    assert len(ds.split_ids("train")) == 6 * 4 and len(ds.split_ids("val")) == 6 * 2
    image = ds.load_image(ds.split_ids("val")[0])
    assert image.shape == (64, 80, 3) and image.dtype == np.uint8
    assert Image.open(ds.mask_path(ds.split_ids("val")[0])).mode == "P"
    meta = json.loads((small_world / "world.json").read_text())
    assert WorldConfig.from_dict(meta["config"]) == SMALL
    assert meta["families"] == {"vehicles": ["bus", "car"], "animals": ["cat", "dog"],
                                "furniture": ["chair", "sofa"]}


def test_masks_hold_only_background_classes_and_void(small_world: Path) -> None:
    ds = VOCDataset(small_world)
    allowed = set(range(SMALL.num_classes + 1)) | {255}
    for split in ds.splits():
        for image_id in ds.split_ids(split):
            values = set(np.unique(ds.load_mask(image_id)).tolist())
            assert values <= allowed
            assert values & set(range(1, SMALL.num_classes + 1)), f"{image_id} has no object"


def test_void_band_separates_every_object_from_background(small_world: Path) -> None:
    ds = VOCDataset(small_world)
    for image_id in ds.split_ids("train"):
        mask = ds.load_mask(image_id).astype(int)
        assert (mask == 255).any()
        obj, bg = (mask > 0) & (mask < 255), mask == 0
        # no object pixel touches a background pixel horizontally or vertically
        assert not (obj[:, 1:] & bg[:, :-1]).any() and not (obj[:, :-1] & bg[:, 1:]).any()
        assert not (obj[1:] & bg[:-1]).any() and not (obj[:-1] & bg[1:]).any()


def test_some_val_images_hold_two_classes(small_world: Path) -> None:
    ds = VOCDataset(small_world)
    counts = [len(set(np.unique(ds.load_mask(i)).tolist()) - {0, 255}) for i in ds.split_ids("val")]
    assert max(counts) == 2 and min(counts) == 1


def test_every_class_has_enough_single_label_train_images(small_world: Path) -> None:
    ds = VOCDataset(small_world)
    singles = [0] * SMALL.num_classes
    for image_id in ds.split_ids("train"):
        present = set(np.unique(ds.load_mask(image_id)).tolist()) - {0, 255}
        if len(present) == 1:
            singles[present.pop() - 1] += 1
    needed = SMALL.train_per_class * (1 - SMALL.multi_object_fraction)
    assert all(n >= needed for n in singles), singles


def _draw(design: world_draw.ClassDesign) -> tuple[np.ndarray, world_draw.RenderedObject]:
    canvas = np.full((64, 80, 3), 128.0, np.float32)
    pose = world_draw.Pose(cx=40.0, cy=34.0, scale=24.0, flip=False)
    look = world_draw.random_look(np.random.default_rng(3))
    obj = world_draw.draw_object(canvas, design, pose, look)
    return canvas, obj


def test_siblings_differ_only_by_a_small_marker() -> None:
    cfg = WorldConfig()
    for family in range(cfg.n_families):
        drawn = [_draw(world_draw.class_design(family * 5 + k, 5)) for k in range(5)]
        markers = np.logical_or.reduce([obj.marker for _, obj in drawn])
        base_image, base = drawn[0]
        for image, obj in drawn[1:]:
            # the family's body + shared parts are the same pixels outside every marker
            assert np.array_equal(obj.full & ~markers, base.full & ~markers)
            assert np.array_equal(image[~markers], base_image[~markers])
            assert not np.array_equal(obj.marker, base.marker)
        for _, obj in drawn:
            fraction = obj.marker.sum() / obj.full.sum()
            assert 0.01 < fraction < 0.15, (family, fraction)  # a small part: under 15% of the object


def test_families_differ_in_body_shape() -> None:
    bodies = [_draw(world_draw.class_design(f * 5, 5))[1].full for f in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            iou = (bodies[a] & bodies[b]).sum() / (bodies[a] | bodies[b]).sum()
            assert iou < 0.6, (a, b, iou)


def test_marker_designs_are_unique_within_a_family() -> None:
    designs = [world_draw.class_design(k, 25) for k in range(25)]
    assert len({(d.marker_shape, d.marker_anchor) for d in designs}) == 25


def test_render_sample_parts_match_the_written_mask() -> None:
    sample = render_sample(SMALL, "train", 0)
    first, _ = split_plan(SMALL, "train")[0]
    assert sample.objects[0].class_index == first or sample.objects[1].class_index == first
    labelled = (sample.mask > 0) & (sample.mask < 255)
    assert not (labelled & ~np.logical_or.reduce([o.full for o in sample.objects])).any()


def test_generate_is_idempotent_and_leaves_no_temp_dirs(small_world: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in small_world.rglob("*")}
    assert generate_world(small_world, SMALL) == small_world
    assert {p: p.stat().st_mtime_ns for p in small_world.rglob("*")} == before
    assert [p.name for p in small_world.parent.iterdir()] == ["world"]


def test_generate_refuses_a_directory_with_another_world(small_world: Path) -> None:
    with pytest.raises(DatasetError, match="does not hold this world"):
        generate_world(small_world, WorldConfig(**{**SMALL.to_dict(), "seed": 9}))


def test_generate_refuses_unrelated_content_but_fills_an_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        generate_world(tmp_path / "busy", SMALL)
    (tmp_path / "empty").mkdir()
    assert (generate_world(tmp_path / "empty", SMALL) / "classes.txt").is_file()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("n_families", 1, "n_families must be >= 2"), ("classes_per_family", 1, "classes_per_family"),
     ("train_per_class", 0, "train_per_class must be >= 1"), ("width", 31, "width and height"),
     ("multi_object_fraction", 1.0, r"multi_object_fraction must be in \[0, 1\)")],
)
def test_config_validation_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WorldConfig(**{field: value})


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    assert WorldConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ConfigError, match="unknown WorldConfig keys: colour"):
        WorldConfig.from_dict({"colour": 1})


def test_extra_families_and_classes_get_generic_names() -> None:
    names = class_names(WorldConfig(n_families=5, classes_per_family=6))
    assert names[5] == "fam0-cls5" and names[24] == "fam4-cls0" and len(set(names)) == 30


def test_default_world_dir_depends_on_config(tmp_path: Path) -> None:
    assert default_world_dir(tmp_path) != default_world_dir(tmp_path, SMALL)
    path = ensure_default_world(tmp_path, SMALL)
    assert path == default_world_dir(tmp_path, SMALL) and path.parent == tmp_path / "datasets"
    assert ensure_default_world(tmp_path, SMALL) == path


def _rle_decode(rle: dict) -> np.ndarray:
    h, w = rle["size"]
    flat = np.zeros(h * w, bool)
    pos = 0
    for i, run in enumerate(rle["counts"]):
        flat[pos:pos + run] = i % 2 == 1
        pos += run
    return flat.reshape(w, h).T


def test_rle_encode_round_trips() -> None:
    mask = np.zeros((5, 7), bool)
    mask[0, 0] = mask[1:4, 2:5] = True
    assert _rle_decode(rle_encode(mask)).tolist() == mask.tolist()
    assert rle_encode(np.zeros((2, 2), bool))["counts"] == [4]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
def test_write_coco_has_sparse_category_ids_polygons_and_rle(tmp_path: Path) -> None:
    root = write_coco(tmp_path / "coco", SMALL)
    data = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    ids = [c["id"] for c in data["categories"]]
    assert ids == [1, 2, 3, 5, 6, 7] and [c["name"] for c in data["categories"]] == list(class_names(SMALL))
    anns = data["annotations"]
    polygons = [a for a in anns if isinstance(a["segmentation"], list)]
    rles = [a for a in anns if isinstance(a["segmentation"], dict)]
    assert polygons and rles and all(a["iscrowd"] == 0 for a in anns)
    assert all(len(a["segmentation"][0]) >= 6 for a in polygons)
    for a in rles:
        assert _rle_decode(a["segmentation"]).sum() == a["area"]
    for im in data["images"]:
        assert (root / "val2017" / im["file_name"]).is_file()
    assert write_coco(tmp_path / "coco", SMALL) == root  # idempotent
    from pycocotools.coco import COCO  # pinned in requirements.txt

    coco = COCO(str(root / "annotations" / "instances_val2017.json"))
    for a in anns:
        decoded = coco.annToMask(a)
        assert decoded.shape == (SMALL.height, SMALL.width)
        assert decoded.sum() >= a["area"] * (0.99 if a in rles else 0.9)
