"""Validation of a user's uploaded image: type, bytes and pixel count checked before decoding, and
a per-session rate limit on new uploads (what a session may make the server decode and explain)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from repcam_core.data.transforms import resize_short_center_crop
from repcam_core.errors import ImageError, RepCAMError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
TYPES = ("png", "jpg", "jpeg", "bmp", "webp")
WINDOW_S = 60.0
HISTORY = 256  # admitted file ids remembered per session


class UploadLimitError(RepCAMError):
    """A session uploaded more new images per minute than the server allows."""


def admit_upload(history: dict[str, float], file_id: str, per_minute: int, now: float) -> None:
    """Count ``file_id`` as one of this session's uploads unless it was admitted before.

    ``history`` (file id -> time admitted, kept in the session) is updated in place; the page
    reruns with the same file on every toggle, which is not a new upload.

    Raises:
        UploadLimitError: ``per_minute`` new uploads were already admitted in the last minute.
    """
    if file_id in history:
        return
    recent = sorted(t for t in history.values() if now - t < WINDOW_S)
    if len(recent) >= per_minute:
        wait = WINDOW_S - (now - recent[-per_minute])
        raise UploadLimitError(f"upload limit reached: at most {per_minute} new images per minute in one "
                               f"session; try again in {max(1, round(wait))} s")
    history[file_id] = now
    for old in sorted(history, key=history.get)[:-HISTORY]:
        del history[old]


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
