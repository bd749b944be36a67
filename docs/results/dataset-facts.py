"""The sizes the docs quote for the real photos, read through RepCAM's own readers.

    python docs/results/dataset-facts.py ../shared/data > docs/results/dataset-facts.txt

MSRC-v2's splits and its masks' sizes; Oxford-Pet-3's splits per breed (``calib`` carved from
``trainval``) and how many of its images ``list.txt`` lists; the COCO mini set's images and the
classes that have single-category images (what ``--classes auto`` keeps).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from PIL import Image

from repcam_core.data.coco import COCODataset
from repcam_core.data.pets import PetDataset
from repcam_core.data.voc import VOCDataset


def main(data: Path) -> None:
    msrc = VOCDataset(data / "msrc-v2")
    print(f"msrc-v2: {msrc.num_classes} classes; " + ", ".join(
        f"{s} {len(msrc.split_ids(s))}" for s in ("train", "calib", "val")))
    sizes = Counter(Image.open(msrc.mask_path(i)).size for i in msrc.split_ids("val"))
    print("msrc-v2 val mask sizes (w x h: images): " + ", ".join(f"{w}x{h}: {n}" for (w, h), n in sizes.most_common()))

    pets = PetDataset(data / "oxford-pet-3")
    print(f"oxford-pet-3: {pets.num_classes} breeds ({', '.join(pets.class_names)})")
    for split in ("train", "calib", "test"):
        ids = pets.split_ids(split)
        per = Counter(int(pets.image_labels(split, i).argmax()) for i in ids)
        print(f"oxford-pet-3 {split}: {len(ids)} ({', '.join(f'{pets.class_names[c]} {per[c]}' for c in sorted(per))})")
    listed = sum(1 for line in (data / "oxford-pet-3" / "annotations" / "list.txt").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    images = len(list((data / "oxford-pet-3" / "images").glob("*.jpg")))
    print(f"oxford-pet-3 list.txt: {listed} of {images} images")

    coco = COCODataset(data / "coco-val2017-mini")
    single = coco.split_ids("val-single")
    classes = {int(coco.image_labels("val-single", i).argmax()) for i in single}
    print(f"coco-val2017-mini: {len(coco.split_ids('val'))} images; {len(classes)} classes have single-category "
          f"images ({len(single)} such images)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
