"""The standard PASCAL VOC colour palette used by 'P'-mode segmentation PNGs.

Index 0 is background (black), 1..20 the VOC classes, 255 the void colour (224, 224, 192).
"""

from __future__ import annotations

import numpy as np

VOID_INDEX = 255


def _bit(value: int, index: int) -> int:
    return (value >> index) & 1


def voc_colormap() -> np.ndarray:
    """The VOC colour map, ``uint8 [256, 3]``: row ``i`` is the RGB colour of label ``i``."""
    cmap = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= _bit(c, 0) << (7 - j)
            g |= _bit(c, 1) << (7 - j)
            b |= _bit(c, 2) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


VOC_COLORMAP: np.ndarray = voc_colormap()
VOC_COLORMAP.setflags(write=False)


def voc_palette() -> list[int]:
    """The palette as the flat ``[r0, g0, b0, r1, ...]`` list (768 ints) ``Image.putpalette`` takes."""
    return [int(v) for v in VOC_COLORMAP.reshape(-1)]


def rgb_to_index(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map an RGB mask ``uint8 [H, W, 3]`` back to palette indices.

    Returns ``(indices uint8 [H, W], unknown bool [H, W])`` where ``unknown`` marks pixels
    whose colour is not in the VOC palette (their index is set to 255).
    """
    keys = (
        (rgb[..., 0].astype(np.int64) << 16)
        | (rgb[..., 1].astype(np.int64) << 8)
        | rgb[..., 2].astype(np.int64)
    )
    cmap = VOC_COLORMAP.astype(np.int64)
    palette_keys = (cmap[:, 0] << 16) | (cmap[:, 1] << 8) | cmap[:, 2]
    # Several indices can share a colour only beyond 255 (never here); keep the first.
    uniq, first = np.unique(palette_keys, return_index=True)
    pos = np.searchsorted(uniq, keys)
    pos = np.clip(pos, 0, len(uniq) - 1)
    found = uniq[pos] == keys
    indices = np.where(found, first[pos], VOID_INDEX).astype(np.uint8)
    return indices, ~found
