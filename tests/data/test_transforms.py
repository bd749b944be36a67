"""Short-side resize + centre crop for images and masks, and ImageNet normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repcam_core.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    crop_geometry,
    mask_resize_short_center_crop,
    resize_short_center_crop,
    to_float_tensor,
)
from repcam_core.errors import ConfigError, ImageError


def test_wide_mask_crop_keeps_middle_columns_and_void() -> None:
    mask = np.tile(np.arange(8, dtype=np.uint8), (4, 1))
    mask[0, 3] = 255
    out = mask_resize_short_center_crop(mask, 4)
    assert out.shape == (4, 4)
    assert out[1].tolist() == [2, 3, 4, 5]
    assert out[0, 1] == 255


def test_tall_image_crop_keeps_middle_rows() -> None:
    image = np.repeat(np.arange(10, dtype=np.uint8)[:, None, None] * 20, 4, axis=1).repeat(3, axis=2)
    out = resize_short_center_crop(image, 4)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert out[:, 0, 0].tolist() == [60, 80, 100, 120]


def test_image_and_mask_crops_are_pixel_aligned() -> None:
    mask = np.zeros((64, 80), np.uint8)
    mask[20:40, 30:50] = 3
    image = np.zeros((64, 80, 3), np.uint8)
    image[mask == 3] = 255
    img_out = resize_short_center_crop(image, 32)
    mask_out = mask_resize_short_center_crop(mask, 32)
    bright = img_out[..., 0] > 127
    agreement = (bright == (mask_out == 3)).mean()
    assert agreement > 0.97 and (mask_out == 3).sum() == pytest.approx(bright.sum(), abs=8)


def test_mask_values_are_preserved_exactly_when_upscaling() -> None:
    rng = np.random.default_rng(0)
    mask = rng.choice(np.array([0, 5, 19, 255], np.uint8), size=(30, 50))
    out = mask_resize_short_center_crop(mask, 224)
    assert out.shape == (224, 224) and set(np.unique(out).tolist()) <= {0, 5, 19, 255}


def test_crop_geometry_rounds_the_long_side_and_centres() -> None:
    assert crop_geometry(375, 500, 224) == (224, 299, 0, 37)
    assert crop_geometry(64, 80, 64) == (64, 80, 0, 8)
    with pytest.raises(ConfigError, match="crop size must be >= 1"):
        crop_geometry(4, 4, 0)


def test_wrong_inputs_are_rejected() -> None:
    with pytest.raises(ImageError, match=r"uint8 \[H, W, 3\]"):
        resize_short_center_crop(np.zeros((4, 4), np.uint8), 2)
    with pytest.raises(ImageError, match=r"uint8 \[H, W\] mask"):
        mask_resize_short_center_crop(np.zeros((4, 4), np.int32), 2)
    with pytest.raises(ImageError, match="expected uint8"):
        to_float_tensor(torch.zeros(1, 3, 2, 2))


def test_to_float_tensor_normalises_with_imagenet_stats() -> None:
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    images[1] = 0
    out = to_float_tensor(images)
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 4)
    for ch in range(3):
        assert out[0, ch, 0, 0].item() == pytest.approx((1 - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch])
        assert out[1, ch, 0, 0].item() == pytest.approx(-IMAGENET_MEAN[ch] / IMAGENET_STD[ch])
