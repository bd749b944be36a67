"""Validation of a user's uploaded image: type, bytes and pixel count checked before decoding."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from repcam_core.data.transforms import resize_short_center_crop
from repcam_core.errors import ImageError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
TYPES = ("png", "jpg", "jpeg", "bmp", "webp")


def load_upload(data: bytes, name: str, size: int) -> torch.Tensor:
    """Uploaded bytes -> uint8 [3, size, size] (short-side resize + centre crop, as the data).

    Raises:
        ImageError: not an image, over 20 MB, or over 40 megapixels.
    """
    if len(data) > MAX_BYTES:
        raise ImageError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{name} is {w}x{h} = {w * h / 1e6:.1f} megapixels; the limit is "
                                 f"{MAX_PIXELS / 1e6:.0f} megapixels")
            rgb = np.asarray(img.convert("RGB"))
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name} is not a readable image ({type(exc).__name__}); "
                         f"upload a {', '.join(TYPES).upper()} file") from None
    crop = resize_short_center_crop(np.ascontiguousarray(rgb, dtype=np.uint8), size)
    return torch.from_numpy(crop.transpose(2, 0, 1).copy())
