"""The paper's preprocessing: resize the short side to ``size``, then centre-crop ``size x size``.

Image and mask share one geometry (:func:`crop_geometry`) so their crops are pixel-aligned:
the image is resized bilinearly, the mask with nearest neighbour (labels and the void value
255 are preserved exactly).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from repcam_core.errors import ConfigError, ImageError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def crop_geometry(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """``(resized_h, resized_w, top, left)``: the short side becomes ``size`` exactly, the long
    side is rounded, and the crop window is centred (extra pixel, if odd, on the bottom/right)."""
    if size < 1:
        raise ConfigError(f"crop size must be >= 1, got {size}")
    if height < 1 or width < 1:
        raise ImageError(f"cannot crop an empty {height}x{width} image")
    if height <= width:
        new_h, new_w = size, max(size, int(round(width * size / height)))
    else:
        new_h, new_w = max(size, int(round(height * size / width))), size
    return new_h, new_w, (new_h - size) // 2, (new_w - size) // 2


def _resize_crop(array: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    h, w = array.shape[:2]
    new_h, new_w, top, left = crop_geometry(h, w, size)
    if (new_h, new_w) != (h, w):
        array = np.asarray(Image.fromarray(array).resize((new_w, new_h), resample))
    return np.ascontiguousarray(array[top:top + size, left:left + size])


def resize_short_center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """``uint8 [H, W, 3]`` -> ``uint8 [size, size, 3]``: bilinear short-side resize + centre crop."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"expected a uint8 [H, W, 3] image, got {image.dtype} {list(image.shape)}")
    return _resize_crop(image, size, Image.Resampling.BILINEAR)


def mask_resize_short_center_crop(mask: np.ndarray, size: int) -> np.ndarray:
    """``uint8 [H, W]`` -> ``uint8 [size, size]``: nearest-neighbour, same geometry as the image."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ImageError(f"expected a uint8 [H, W] mask, got {mask.dtype} {list(mask.shape)}")
    return _resize_crop(mask, size, Image.Resampling.NEAREST)


def to_float_tensor(images: torch.Tensor) -> torch.Tensor:
    """``uint8 [B, 3, S, S]`` (or ``[3, S, S]``) -> float32, scaled to 0..1 and normalised
    with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`."""
    if images.dtype != torch.uint8 or images.ndim not in (3, 4) or images.shape[-3] != 3:
        raise ImageError(f"expected uint8 [B, 3, S, S] images, got {images.dtype} {list(images.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(3, 1, 1)
    return (images.float() / 255.0 - mean) / std
