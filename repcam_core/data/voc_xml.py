"""Image-level labels of PASCAL VOC from its detection annotations (``Annotations/<id>.xml``).

The paper trains its classifiers on the ~11k VOC 2012 ``trainval`` images, most of which have
no segmentation mask; their labels come from the object names in these XML files. Every
``<object>`` counts, ``difficult`` and ``truncated`` ones included: the object is in the image,
so the image-level label is present.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import numpy as np

from repcam_core.errors import ImageError


def xml_object_names(path: Path) -> list[str]:
    """The ``<object><name>`` values of one annotation file, in file order.

    Raises ImageError naming the file when it is missing or not parseable XML.
    """
    if not path.is_file():
        raise ImageError(f"file not found: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ImageError(f"cannot parse annotation {path}: {exc}") from exc
    names = []
    for obj in root.iter("object"):
        name = obj.findtext("name")
        if name is None or not name.strip():
            raise ImageError(f"annotation {path} has an <object> without a <name>")
        names.append(name.strip())
    return names


def xml_labels(path: Path, class_names: Sequence[str]) -> np.ndarray:
    """``bool [C]``: which of ``class_names`` the annotation file names at least once.

    Raises ImageError when the file names a class outside ``class_names`` or no object at all.
    """
    index = {n: i for i, n in enumerate(class_names)}
    names = xml_object_names(path)
    if not names:
        raise ImageError(f"annotation {path} lists no objects")
    labels = np.zeros(len(class_names), dtype=bool)
    for name in names:
        if name not in index:
            raise ImageError(f"annotation {path} names class {name!r}, which is not one of the "
                             f"{len(class_names)} dataset classes")
        labels[index[name]] = True
    return labels
