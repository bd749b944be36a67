"""The class similarity matrix B built from false classification (paper eq. (2), sec. 3.1.2).

``B[i, j]`` is the sum, over the images of class ``i``, of the probability the multi-class
classifier gives to class ``j``. The larger it is, the more the classifier confuses ``i`` with
``j``, i.e. the more similar the two classes are. The diagonal (correct classification) carries
no similarity information and is ignored by selection and clustering.
"""

from __future__ import annotations

import numpy as np

from repcam_core.errors import ConfigError


def similarity_matrix(
    probs: np.ndarray, labels: np.ndarray, *, allow_empty: bool = False
) -> np.ndarray:
    """Sum softmax rows per true class: ``B[i, j] = sum_{k: labels[k] == i} probs[k, j]``.

    Args:
        probs: ``[M, C]`` softmax outputs, one row per image.
        labels: ``[M]`` integer true class of each image, in ``0..C-1``.
        allow_empty: if False, a class with no image raises; if True its row stays zero.

    Returns:
        ``[C, C]`` float64 matrix B (not symmetric in general).

    Raises:
        ConfigError: on shape mismatch, a label out of range, or (unless ``allow_empty``) a
            class without images.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2:
        raise ConfigError(f"probs must be [M, C], got shape {probs.shape}")
    if labels.ndim != 1 or labels.shape[0] != probs.shape[0]:
        raise ConfigError(
            f"labels must be [M] with M = {probs.shape[0]} to match probs, got shape {labels.shape}"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"labels must be integers, got dtype {labels.dtype}")
    num_classes = probs.shape[1]
    labels = labels.astype(np.int64, copy=False)
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ConfigError(
            f"label {int(labels[bad][0])} is out of range for {num_classes} classes"
        )
    B = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(B, labels, probs)
    if not allow_empty:
        counts = np.bincount(labels, minlength=num_classes)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            raise ConfigError(f"class {int(empty[0])} has no images to build similarity from")
    return B


def off_diagonal(B: np.ndarray) -> np.ndarray:
    """Return a float64 copy of square ``B`` ``[C, C]`` with the diagonal set to 0."""
    B = _check_square(B).copy()
    np.fill_diagonal(B, 0.0)
    return B


def normalise_rows(B: np.ndarray) -> np.ndarray:
    """Divide each row of ``B`` ``[C, C]`` by its off-diagonal sum; the diagonal becomes 0.

    Rows whose off-diagonal sum is 0 stay all-zero. Useful when classes have very different
    image counts, since raw sums of eq. (2) grow with the number of images.
    """
    off = off_diagonal(B)
    sums = off.sum(axis=1, keepdims=True)
    out = np.zeros_like(off)
    np.divide(off, sums, out=out, where=sums != 0)
    return out


def _check_square(B: np.ndarray) -> np.ndarray:
    B = np.asarray(B, dtype=np.float64)
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ConfigError(f"similarity matrix must be square [C, C], got shape {B.shape}")
    return B
