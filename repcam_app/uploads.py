"""Validation of a user's uploaded image: size and pixel count checked before decoding, then any
pixel format Pillow reads turned into 8-bit RGB; and a per-session rate limit on new uploads (what
a session may make the server decode and explain).

Conversions (what a user expects to see, not what ``Image.convert("RGB")`` does by default):
16-bit greyscale is scaled to 8 bits (``convert`` would clip everything above 255 to white);
transparency is composited over white; CMYK, greyscale, palette and bilevel images become RGB;
an animation gives its first frame. Refused with a message naming the file: over 20 MB, over 40
megapixels (read from the header, before any decoding: a decompression bomb never expands),
smaller than 8 pixels on a side, and anything Pillow cannot decode (random bytes, a truncated
file, an HTML or SVG page named ``.png``).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from repcam_core.data.transforms import resize_short_center_crop
from repcam_core.errors import ImageError, RepCAMError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 8
TYPES = ("png", "jpg", "jpeg", "bmp", "webp")
DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error,
                 IndexError, KeyError, TypeError)
"""What Pillow's decoders raise on malformed input (seen by fuzzing truncated and bit-flipped files)."""
BACKGROUND = (255, 255, 255)
"""Transparent pixels are shown over white, as a browser shows them on a page."""
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
        ImageError: empty, over 20 MB, over 40 megapixels, under 8 pixels on a side, or not an
            image Pillow can decode; the message names the file and says what to upload instead.
    """
    if not data:
        raise ImageError(f"{name} is empty; upload a {_types()} file")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():  # decoders' notes on damaged files, and Pillow's own pixel
            warnings.simplefilter("ignore", UserWarning)  # limit (89 MP): ours is lower and checked next
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{name} is {w}x{h} = {w * h / 1e6:.1f} megapixels; the limit is "
                                 f"{MAX_PIXELS / 1e6:.0f} megapixels")
            if min(w, h) < MIN_SIDE:
                raise ImageError(f"{name} is {w}x{h} pixels; upload an image at least {MIN_SIDE}x{MIN_SIDE}")
            rgb = to_rgb8(img)
    except ImageError:
        raise
    except Image.DecompressionBombError:  # over twice Pillow's limit: refused while reading the header
        raise ImageError(f"{name} is over the {MAX_PIXELS / 1e6:.0f}-megapixel limit") from None
    except DECODE_ERRORS as exc:
        raise ImageError(_unreadable(data, name, exc)) from None
    crop = resize_short_center_crop(rgb, size)
    return torch.from_numpy(crop.transpose(2, 0, 1).copy())


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Any Pillow image -> uint8 [H, W, 3] (see the module doc for each conversion); decodes it."""
    img.load()
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):  # 16-bit greyscale PNG (Pillow: I;16 or I)
        wide = np.asarray(img).astype(np.int64)
        grey = ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        back = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        img = Image.alpha_composite(back, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _unreadable(data: bytes, name: str, exc: Exception) -> str:
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<"):
        kind = "an SVG drawing" if b"<svg" in data[:4096].lower() else "an HTML or XML text file"
        return f"{name} is {kind}, not a raster image; upload a {_types()} file"
    return f"{name} is not a readable image ({type(exc).__name__}); upload a {_types()} file"


def _types() -> str:
    return ", ".join(TYPES).upper()
