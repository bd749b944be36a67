"""A generated Oxford-IIIT Pet directory in the full download's layout, for the reader's tests.

The 37 breeds with their real CLASS-IDs, species and per-species BREED-IDs, ``list.txt`` with the
download's ``#`` header lines and its lines shuffled (the reader must order classes by CLASS-ID,
not by file order), ``trainval.txt``/``test.txt`` without headers, tiny random photos and
trimaps (1 pet in a box, 3 its border, 2 elsewhere). A plain module: tests import it by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CATS = ("Abyssinian", "Bengal", "Birman", "Bombay", "British_Shorthair", "Egyptian_Mau", "Maine_Coon", "Persian",
        "Ragdoll", "Russian_Blue", "Siamese", "Sphynx")
DOGS = ("american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "boxer", "chihuahua",
        "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees", "havanese",
        "japanese_chin", "keeshond", "leonberger", "miniature_pinscher", "newfoundland", "pomeranian", "pug",
        "saint_bernard", "samoyed", "scottish_terrier", "shiba_inu", "staffordshire_bull_terrier",
        "wheaten_terrier", "yorkshire_terrier")
BREEDS = tuple(sorted(CATS + DOGS, key=str.lower))
"""The 37 breeds in CLASS-ID order (1..37: the download numbers them alphabetically, case aside)."""
HEADER = ("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
          "#BREED ID: 1-25:Cat 1:12:Dog\n#All images with 1st letter as captial are cat images\n"
          "#images with small first letter are dog images\n")
SIZE = (10, 8)  # width, height of every generated photo


def line(image_id: str) -> str:
    """``Image CLASS-ID SPECIES BREED-ID`` for ``image_id`` (``<Breed>_<n>``)."""
    breed = image_id.rsplit("_", 1)[0]
    species = 1 if breed in CATS else 2
    breed_id = (CATS if species == 1 else DOGS).index(breed) + 1
    return f"{image_id} {BREEDS.index(breed) + 1} {species} {breed_id}"


def trimap(seed: int) -> np.ndarray:
    """``uint8 [H, W]``: 2 background, a pet box of 1 with a one-pixel border of 3."""
    w, h = SIZE
    rng = np.random.default_rng(seed)
    t = np.full((h, w), 2, np.uint8)
    y, x = int(rng.integers(0, 3)), int(rng.integers(0, 4))
    t[y:y + 5, x:x + 6] = 3
    t[y + 1:y + 4, x + 1:x + 5] = 1
    return t


def make_pets(root: Path, breeds: tuple[str, ...] = BREEDS, trainval: int = 4, test: int = 1,
              header: bool = True) -> Path:
    """``root`` in the Pet layout: per breed ``trainval`` + ``test`` images (names ``<Breed>_<n>``);
    returns ``root``."""
    (root / "images").mkdir(parents=True)
    (root / "annotations" / "trimaps").mkdir(parents=True)
    rng = np.random.default_rng(0)
    splits: dict[str, list[str]] = {"trainval": [], "test": []}
    k = 0
    for breed in breeds:
        for n in range(1, trainval + test + 1):
            image_id = f"{breed}_{n}"
            splits["trainval" if n <= trainval else "test"].append(image_id)
            Image.fromarray(rng.integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8)).save(
                root / "images" / f"{image_id}.jpg")
            Image.fromarray(trimap(k), mode="L").save(root / "annotations" / "trimaps" / f"{image_id}.png")
            k += 1
    listed = splits["trainval"] + splits["test"]
    order = rng.permutation(len(listed))
    (root / "annotations" / "list.txt").write_text(
        (HEADER if header else "") + "".join(line(listed[i]) + "\n" for i in order))
    for name, ids in splits.items():
        (root / "annotations" / f"{name}.txt").write_text("".join(line(i) + "\n" for i in ids))
    return root
