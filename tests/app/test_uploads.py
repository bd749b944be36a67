"""Uploaded files: every odd pixel format becomes the RGB a user expects, everything else gets a
message naming the file, and seeded random damage to real files never escapes as an exception."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from repcam_app.uploads import load_upload
from repcam_core.errors import ImageError
from repcam_testing import survived


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_16bit(values: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG written by hand (Pillow writes 16-bit greyscale only from mode I;16)."""
    h, w = values.shape
    raw = b"".join(b"\0" + values[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w x h pixels and holds almost no data (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
            + struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT")))


@pytest.fixture
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))


UPLOADS = "uploads survived (loaded, or refused with a message naming the file)"


def _pixels(data: bytes, name: str) -> np.ndarray:
    return load_upload(data, name, 16).permute(1, 2, 0).numpy().astype(int)


@pytest.mark.parametrize("make, message", [
    (lambda p: bytes(random.Random(1).randrange(256) for _ in range(4096)), "is not a readable image"),
    (lambda p: encode(p, "JPEG")[:300], "is not a readable image"),
    (lambda p: encode(p, "PNG")[:200], "is not a readable image"),
    (lambda p: encode(Image.new("RGB", (1, 1)), "PNG"), "is 1x1 pixels; upload an image at least 8x8"),
    (lambda p: b"<!DOCTYPE html><html><body>not an image</body></html>", "is an HTML or XML text file"),
    (lambda p: b'\xef\xbb\xbf  <?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "is an SVG drawing"),
    (lambda p: b"", "is empty"),
])
@pytest.mark.survives(UPLOADS)
def test_unusable_uploads_get_a_message_naming_the_file(photo, make, message):
    with pytest.raises(ImageError, match=f"^upload.png {message}"):
        load_upload(make(photo), "upload.png", 16)


@pytest.mark.parametrize("side, message", [
    (7_000, "is 7000x7000 = 49.0 megapixels; the limit is 40 megapixels"),
    (10_000, "is 10000x10000 = 100.0 megapixels; the limit is 40 megapixels"),
    (30_000, "is over the 40-megapixel limit"),  # past Pillow's own refusal: no size in the message
])
@pytest.mark.survives(UPLOADS)
def test_a_decompression_bomb_is_refused_from_its_header_before_any_decoding(side, message, monkeypatch):
    def no_decoding(self):
        raise AssertionError("decoding started")

    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    with pytest.raises(ImageError, match=f"^bomb.png {message}"):
        load_upload(png_header_only(side, side), "bomb.png", 16)


@pytest.mark.survives(UPLOADS)
def test_16_bit_greyscale_is_scaled_to_8_bits_not_clipped():
    ramp = np.tile(np.linspace(0, 65535, 16).astype(np.uint16), (16, 1))
    px = _pixels(png_16bit(ramp), "ramp16.png")
    assert px[0, 0].tolist() == [0, 0, 0] and px[0, -1].tolist() == [255, 255, 255]
    assert 120 <= px[0, 8, 0] <= 140  # clipping would make everything above 255/65535 white


def test_transparency_is_composited_over_white():
    rgba = Image.new("RGBA", (16, 16), (200, 0, 0, 0))
    assert (_pixels(encode(rgba, "PNG"), "clear.png") == 255).all()
    half = Image.new("RGBA", (16, 16), (200, 0, 0, 128))
    assert np.abs(_pixels(encode(half, "PNG"), "half.png")[8, 8] - [227, 127, 127]).max() <= 2
    la = Image.new("LA", (16, 16), (0, 0))
    assert (_pixels(encode(la, "PNG"), "la.png") == 255).all()
    survived(UPLOADS, 3)


def test_cmyk_greyscale_palette_and_bilevel_images_become_rgb():
    red = Image.new("RGB", (16, 16), (200, 30, 40))
    cmyk = _pixels(encode(red.convert("CMYK"), "JPEG", quality=95), "print.jpg")
    assert np.abs(cmyk[8, 8] - [200, 30, 40]).max() <= 12
    grey = _pixels(encode(red.convert("L"), "PNG"), "grey.png")
    assert grey[8, 8, 0] == grey[8, 8, 1] == grey[8, 8, 2] > 0
    palette = red.convert("P", palette=Image.Palette.ADAPTIVE)
    assert np.abs(_pixels(encode(palette, "GIF"), "p.gif")[8, 8] - [200, 30, 40]).max() <= 2
    assert set(np.unique(_pixels(encode(red.convert("1"), "PNG"), "bw.png"))) <= {0, 255}
    survived(UPLOADS, 4)


def test_seeded_random_damage_to_real_files_never_escapes_as_an_exception(photo):
    files = {f"{fmt}-{mode}": encode(photo.convert(mode), fmt) for fmt, mode in
             [("PNG", "RGB"), ("JPEG", "RGB"), ("BMP", "RGB"), ("WEBP", "RGB"), ("GIF", "P"), ("PNG", "RGBA"),
              ("JPEG", "CMYK"), ("TIFF", "RGB")]}
    files["PNG-I;16"] = png_16bit(np.arange(40 * 48, dtype=np.uint16).reshape(40, 48) * 30)
    rng = random.Random(20)
    tried = refused = 0
    for fmt, good in files.items():
        for _ in range(60):
            data = bytearray(good)
            if rng.random() < 0.4:
                data = data[: rng.randrange(1, len(data))]
            else:
                for _ in range(rng.randint(1, 12)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
            tried += 1
            try:
                image = load_upload(bytes(data), f"fuzz.{fmt.lower()}", 16)
                assert image.shape == (3, 16, 16)
            except ImageError as exc:
                assert str(exc).startswith(f"fuzz.{fmt.lower()} ")
                refused += 1
    assert tried == 540 and 0 < refused < tried
    survived(UPLOADS, tried)
